"""Gemini ``Content``/``Part`` <-> IR parts, including where thought signatures live.

Gemini puts a ``thoughtSignature`` on the part that follows the reasoning (usually the first
``functionCall``). In the IR that becomes a ``ThinkingPart`` (text merged from preceding
``thought`` parts) placed *before* that part; :func:`parts_from_ir` puts it back on the next
part. Requests may use camelCase or snake_case field names (both are valid proto JSON).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.ir import (
    JSON,
    FilePart,
    ImagePart,
    Part,
    RawPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    TranslationError,
)
from turnout.protocols.signatures import from_gemini_envelope, to_gemini_envelope

PROTOCOL = "gemini"
SYNTH_ID_PREFIX = "gcall_"
"""Ids the gateway invents for Gemini calls without one; never sent back to Gemini."""


def g(obj: JSON, camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _media(blob: JSON, url: bool) -> ImagePart | FilePart:
    media = g(blob, "mimeType", "mime_type")
    if url:
        uri = g(blob, "fileUri", "file_uri")
        if media is None or media.startswith("image/"):
            return ImagePart(media_type=media, url=uri)
        return FilePart(media_type=media, url=uri, name=g(blob, "displayName", "display_name"))
    data = blob.get("data")
    if media and media.startswith("image/"):
        return ImagePart(media_type=media, data=data)
    return FilePart(media_type=media, data=data, name=g(blob, "displayName", "display_name"))


def response_to_result(call_id: str, name: str, response: Any) -> ToolResultPart:
    """``{"output": "..."}`` / ``{"error": "..."}`` unwrap to text; other objects stay JSON."""
    if isinstance(response, dict) and len(response) == 1:
        key, value = next(iter(response.items()))
        if key in ("output", "error") and isinstance(value, str):
            return ToolResultPart(call_id, name, [TextPart(value)], is_error=key == "error")
    return ToolResultPart(call_id, name, [TextPart(orjson.dumps(response or {}).decode())])


class PartReader:
    """Stateful across a conversation: pairs id-less functionResponses with earlier calls."""

    def __init__(self, id_prefix: str = SYNTH_ID_PREFIX) -> None:
        self._prefix = id_prefix
        self._unanswered: dict[str, list[str]] = {}
        self._count = 0

    def _call_id(self, explicit: str | None) -> str:
        if explicit:
            return explicit
        self._count += 1
        return f"{self._prefix}{self._count}"

    def parts(self, parts: list[JSON]) -> list[Part]:
        out: list[Part] = []
        thinking: ThinkingPart | None = None
        for item in parts:
            signature = g(item, "thoughtSignature", "thought_signature")
            if item.get("thought"):
                if thinking is None:
                    thinking = ThinkingPart()
                    out.append(thinking)
                thinking.text += item.get("text") or ""
                if signature:
                    self._sign(thinking, signature)
                    thinking = None
                continue
            if signature:
                if thinking is None:
                    thinking = ThinkingPart()
                    out.append(thinking)
                self._sign(thinking, signature)
            thinking = None
            part = self._part(item)
            if part is not None:
                out.append(part)
        return out

    @staticmethod
    def _sign(part: ThinkingPart, signature: str) -> None:
        foreign = from_gemini_envelope(signature)
        if foreign is None:
            part.signature, part.source = signature, "gemini"
            return
        part.signature, part.redacted, part.source = (
            foreign.signature, foreign.redacted, foreign.source)  # fmt: skip
        if foreign.text:
            # The envelope's text is the one that was signed; the visible thought parts are
            # whatever the client made of them (split, joined, dropped).
            part.text = foreign.text

    def _part(self, item: JSON) -> Part | None:
        if "text" in item:
            text = item["text"]
            return TextPart(text) if text else None
        if (blob := g(item, "inlineData", "inline_data")) is not None:
            return _media(blob, url=False)
        if (blob := g(item, "fileData", "file_data")) is not None:
            return _media(blob, url=True)
        if (call := g(item, "functionCall", "function_call")) is not None:
            name = call.get("name", "")
            call_id = self._call_id(call.get("id"))
            self._unanswered.setdefault(name, []).append(call_id)
            return ToolCallPart(call_id, name, call.get("args") or {})
        if (resp := g(item, "functionResponse", "function_response")) is not None:
            name = resp.get("name", "")
            waiting = self._unanswered.get(name) or []
            call_id = resp.get("id")
            if call_id in waiting:
                waiting.remove(call_id)
            elif call_id is None:
                call_id = waiting.pop(0) if waiting else self._call_id(None)
            return response_to_result(call_id, name, resp.get("response"))
        return RawPart(PROTOCOL, item)


# -- IR -> Gemini ------------------------------------------------------------------------------


def _media_part(part: ImagePart | FilePart) -> JSON:
    if part.data is not None:
        return {
            "inlineData": {
                "mimeType": part.media_type or "application/octet-stream",
                "data": part.data,
            }
        }
    blob: JSON = {"fileUri": part.url}
    if part.media_type:
        blob["mimeType"] = part.media_type
    return {"fileData": blob}


def _call_part(part: ToolCallPart) -> JSON:
    call: JSON = {"name": part.name, "args": part.arguments}
    if part.id and not part.id.startswith(SYNTH_ID_PREFIX):
        call["id"] = part.id
    return {"functionCall": call}


def _result_parts(part: ToolResultPart, name: str, path: str) -> list[JSON]:
    texts = [p for p in part.content if isinstance(p, TextPart)]
    text = "".join(p.text for p in texts)
    response: Any = None
    if text.startswith("{") and not part.is_error:
        try:
            response = orjson.loads(text)
        except orjson.JSONDecodeError:
            response = None
    if not isinstance(response, dict):
        response = {"error" if part.is_error else "output": text}
    result: JSON = {"name": name, "response": response}
    if part.id and not part.id.startswith(SYNTH_ID_PREFIX):
        result["id"] = part.id
    out: list[JSON] = [{"functionResponse": result}]
    out.extend(_media_part(p) for p in part.content if isinstance(p, ImagePart | FilePart))
    return out


def parts_from_ir(
    parts: list[Part], path: str, names: dict[str, str], for_client: bool = False
) -> list[JSON]:
    """IR parts -> Gemini parts.

    Gemini-minted signatures go back onto the next part; Anthropic state is wrapped in an
    envelope on a ``thought`` part (only toward a Gemini *client*: Gemini would reject it).
    """
    out: list[JSON] = []
    pending: str | None = None
    for j, part in enumerate(parts):
        item: JSON
        if isinstance(part, ThinkingPart):
            if part.source == "gemini" and part.signature:
                if part.text:
                    out.append({"text": part.text, "thought": True})
                pending = part.signature
            elif for_client:
                item = {"text": part.text, "thought": True}
                if part.signature is not None or part.redacted is not None:
                    item["thoughtSignature"] = to_gemini_envelope(part)
                out.append(item)
            continue
        if isinstance(part, TextPart):
            item = {"text": part.text}
        elif isinstance(part, ImagePart | FilePart):
            item = _media_part(part)
        elif isinstance(part, ToolCallPart):
            names[part.id] = part.name
            item = _call_part(part)
        elif isinstance(part, ToolResultPart):
            name = part.name or names.get(part.id)
            if not name:
                raise TranslationError(
                    f"{path}[{j}]",
                    "Gemini needs the function name of a "
                    "tool result and no earlier call has this id",
                )
            out.extend(_result_parts(part, name, f"{path}[{j}]"))
            continue
        elif part.protocol == PROTOCOL:
            item = dict(part.data)
        else:
            raise TranslationError(
                f"{path}[{j}]", f"a {part.protocol} part has no Gemini equivalent"
            )
        if pending is not None:
            item["thoughtSignature"] = pending
            pending = None
        out.append(item)
    if pending is not None:
        out.append({"text": "", "thoughtSignature": pending})
    return out

"""Responses ``input`` items <-> IR messages (history, media, function calls and outputs,
reasoning items).

A Responses conversation is a flat list of items; the IR's is a list of turns. Consecutive
assistant-side items (``reasoning``, assistant ``message``, ``function_call``) form one
assistant turn, in their order, so Anthropic sees its thinking before the tool use it led to;
each ``function_call_output`` is a tool turn, as a Chat Completions ``tool`` message is.
"""

from __future__ import annotations

from typing import Any

from turnout.ir import (
    JSON,
    FilePart,
    ImagePart,
    Message,
    Part,
    RawPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    TranslationError,
)
from turnout.protocols._shared import data_url, dumps, parse_arguments, parse_data_url
from turnout.protocols.responses import reasoning

PROTOCOL = "responses"
_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_AUDIO_MEDIA = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}
_STORED = "needs the response stored at OpenAI; route this model to an OpenAI provider"


def _media_part(item: JSON, path: str) -> Part:
    """One content part of a user message or a function call output."""
    kind = item.get("type")
    if kind in ("input_text", "output_text", "text"):
        return TextPart(item.get("text", ""))
    if kind == "refusal":
        return TextPart(item.get("refusal", ""), extras={"refusal": True})
    if kind == "input_image":
        if item.get("file_id"):
            raise TranslationError(f"{path}.file_id", f"an uploaded file {_STORED}")
        url = item.get("image_url") or ""
        inline = parse_data_url(url)
        detail = item.get("detail")
        detail = None if detail == "auto" else detail
        if inline:
            return ImagePart(media_type=inline[0], data=inline[1], detail=detail)
        return ImagePart(url=url, detail=detail)
    if kind == "input_file":
        if item.get("file_id"):
            raise TranslationError(f"{path}.file_id", f"an uploaded file {_STORED}")
        name = item.get("filename")
        if item.get("file_data"):
            inline = parse_data_url(item["file_data"])
            if inline is None:
                raise TranslationError(f"{path}.file_data", "expected a data URL")
            return FilePart(media_type=inline[0], data=inline[1], name=name)
        return FilePart(url=item.get("file_url"), name=name)
    if kind == "input_audio":
        audio = item.get("input_audio") or {}
        fmt = audio.get("format", "wav")
        return FilePart(media_type=_AUDIO_FORMATS.get(fmt, f"audio/{fmt}"), data=audio.get("data"))
    return RawPart(PROTOCOL, item)


def _content(content: Any, path: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    return [_media_part(item, f"{path}[{j}]") for j, item in enumerate(content)]


def _thinking(item: JSON) -> ThinkingPart:
    """A reasoning item: the state we carried, or its visible text (an OpenAI upstream's
    encrypted content means nothing to any other provider)."""
    carried = reasoning.decode(item.get("encrypted_content"))
    if carried is not None:
        return carried
    texts = [s.get("text", "") for s in item.get("summary") or () if isinstance(s, dict)]
    if not texts:
        texts = [c.get("text", "") for c in item.get("content") or () if isinstance(c, dict)]
    return ThinkingPart("".join(texts))


def items_to_ir(items: Any, instructions: Any) -> tuple[list[TextPart], list[Message]]:
    system: list[TextPart] = []
    if isinstance(instructions, str) and instructions:
        system.append(TextPart(instructions))
    if isinstance(items, str):
        return system, [Message("user", [TextPart(items)])]
    out: list[Message] = []
    names: dict[str, str] = {}
    turn: Message | None = None  # the assistant turn being gathered

    def assistant() -> Message:
        nonlocal turn
        if turn is None:
            turn = Message("assistant", [])
            out.append(turn)
        return turn

    for i, item in enumerate(items or ()):
        path = f"input[{i}]"
        kind = item.get("type")
        role = item.get("role")
        if kind in (None, "message") and role is not None:
            parts = _content(item.get("content"), f"{path}.content")
            if role in ("system", "developer"):
                for part in parts:
                    if not isinstance(part, TextPart):
                        raise TranslationError(f"{path}.content", "system content must be text")
                    system.append(part)
            elif role == "assistant":
                assistant().content.extend(parts)
            elif role == "user":
                turn = None
                out.append(Message("user", parts))
            else:
                raise TranslationError(f"{path}.role", f"unsupported role {role!r}")
        elif kind == "function_call":
            call_id = item.get("call_id") or item.get("id") or f"call_{i}"
            name = item.get("name", "")
            names[call_id] = name
            raw = item.get("arguments")
            args = parse_arguments(raw, f"{path}.arguments")
            assistant().content.append(ToolCallPart(call_id, name, args, raw))
        elif kind == "function_call_output":
            turn = None
            call_id = item.get("call_id", "")
            content = [
                p
                for p in _content(item.get("output"), f"{path}.output")
                if isinstance(p, TextPart | ImagePart | FilePart)
            ]
            result = ToolResultPart(call_id, names.get(call_id), content)
            out.append(Message("tool", [result]))
        elif kind == "reasoning":
            assistant().content.append(_thinking(item))
        elif kind == "item_reference":
            raise TranslationError(f"{path}", f"an item reference {_STORED}")
        else:
            raise TranslationError(
                f"{path}.type",
                f"{kind!r} items are OpenAI's own; route this model to an OpenAI provider",
            )
    return system, out


# -- IR -> Responses input ---------------------------------------------------------------------


def _media_out(part: Part, path: str, role: str) -> JSON:
    if isinstance(part, TextPart):
        if role == "assistant":
            if part.extras and part.extras.get("refusal"):
                return {"type": "refusal", "refusal": part.text}
            return {"type": "output_text", "text": part.text}
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else data_url(part.media_type, part.data or "")
        return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}
    if isinstance(part, FilePart):
        media = part.media_type or ""
        if media.startswith("audio/") and part.data is not None:
            fmt = _AUDIO_MEDIA.get(media)
            if fmt is None:
                raise TranslationError(path, f"OpenAI accepts only wav/mp3 audio, not {media}")
            return {"type": "input_audio", "input_audio": {"data": part.data, "format": fmt}}
        out: JSON = {"type": "input_file"}
        if part.data is not None:
            out["file_data"] = data_url(media, part.data)
        elif part.url is not None:
            out["file_url"] = part.url
        if part.name:
            out["filename"] = part.name
        return out
    if isinstance(part, RawPart) and part.protocol == PROTOCOL:
        return part.data
    raise TranslationError(path, f"{type(part).__name__} has no Responses API equivalent")


def items_from_ir(messages: list[Message]) -> list[JSON]:
    out: list[JSON] = []
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        text: list[JSON] = []
        own = "assistant" if msg.role == "assistant" else "user"
        for j, part in enumerate(msg.content):
            where = f"{path}.content[{j}]"
            if isinstance(part, ToolCallPart | ToolResultPart) and text:
                out.append({"type": "message", "role": own, "content": text})
                text = []
            if isinstance(part, ToolCallPart):
                args = (
                    part.raw_arguments if part.raw_arguments is not None else dumps(part.arguments)
                )
                out.append(
                    {"type": "function_call", "call_id": part.id, "name": part.name,
                     "arguments": args}
                )  # fmt: skip
            elif isinstance(part, ToolResultPart):
                output: Any = [_media_out(p, where, "user") for p in part.content]
                if all(p.get("type") == "input_text" for p in output):
                    output = "".join(p["text"] for p in output)
                out.append({"type": "function_call_output", "call_id": part.id, "output": output})
            elif isinstance(part, ThinkingPart):
                continue  # minted elsewhere: OpenAI cannot read another provider's state
            else:
                text.append(_media_out(part, where, own))
        if text:
            out.append({"type": "message", "role": own, "content": text})
    return out

"""OpenAI Chat Completions messages <-> IR messages (history, media, tool calls, results)."""

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
from turnout.protocols.signatures import decode_tool_call_id, strip_tool_call_id

PROTOCOL = "openai"
_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_AUDIO_MEDIA = {v: k for k, v in _AUDIO_FORMATS.items()} | {
    "audio/mp3": "mp3",
    "audio/x-wav": "wav",
}
_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id"}


def _rest(obj: JSON, known: set[str]) -> JSON | None:
    extra = {k: v for k, v in obj.items() if k not in known}
    return extra or None


def _content_parts(content: Any, path: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for j, item in enumerate(content):
        kind = item.get("type")
        if kind == "text":
            parts.append(TextPart(item.get("text", ""), extras=_rest(item, {"type", "text"})))
        elif kind == "image_url":
            image = item.get("image_url") or {}
            url = image.get("url", "")
            inline = parse_data_url(url)
            detail = image.get("detail")
            if inline:
                parts.append(ImagePart(media_type=inline[0], data=inline[1], detail=detail))
            else:
                parts.append(ImagePart(url=url, detail=detail))
        elif kind == "input_audio":
            audio = item.get("input_audio") or {}
            fmt = audio.get("format", "wav")
            parts.append(
                FilePart(media_type=_AUDIO_FORMATS.get(fmt, f"audio/{fmt}"), data=audio.get("data"))
            )
        elif kind == "file" and (item.get("file") or {}).get("file_data"):
            file = item["file"]
            inline = parse_data_url(file["file_data"])
            if inline is None:
                raise TranslationError(f"{path}[{j}].file.file_data", "expected a data URL")
            parts.append(FilePart(media_type=inline[0], data=inline[1], name=file.get("filename")))
        elif kind == "refusal":
            parts.append(TextPart(item.get("refusal", ""), extras={"refusal": True}))
        else:
            parts.append(RawPart(PROTOCOL, item))
    return parts


def _tool_calls_to_ir(calls: list[JSON], path: str, names: dict[str, str]) -> list[Part]:
    parts: list[Part] = []
    for k, call in enumerate(calls):
        if call.get("type", "function") != "function":
            parts.append(RawPart(PROTOCOL, call))
            continue
        fn = call.get("function") or {}
        call_id, thinking = decode_tool_call_id(call.get("id") or f"call_{k}")
        raw = fn.get("arguments")
        name = fn.get("name", "")
        names[call_id] = name
        parts.extend(thinking)
        parts.append(
            ToolCallPart(
                id=call_id,
                name=name,
                arguments=parse_arguments(raw, f"{path}.tool_calls[{k}].function.arguments"),
                raw_arguments=raw,
            )
        )
    return parts


def _assistant_to_ir(msg: JSON, path: str, names: dict[str, str]) -> Message:
    content = _content_parts(msg.get("content"), f"{path}.content")
    if msg.get("refusal"):
        content.append(TextPart(msg["refusal"], extras={"refusal": True}))
    calls = _tool_calls_to_ir(msg.get("tool_calls") or [], path, names)
    # Anthropic thinking restored from the first tool call id must lead the turn (Anthropic
    # requires it); Gemini signatures stay right before their call, where Gemini wants them.
    lead: list[Part] = []
    while calls and isinstance(calls[0], ThinkingPart) and calls[0].source == "anthropic":
        lead.append(calls.pop(0))
    extras = _rest(msg, _MESSAGE_KEYS | {"refusal"})
    return Message("assistant", lead + content + calls, extras)


def messages_to_ir(messages: list[JSON]) -> tuple[list[TextPart], list[Message]]:
    system: list[TextPart] = []
    out: list[Message] = []
    names: dict[str, str] = {}
    for i, msg in enumerate(messages):
        role = msg.get("role")
        path = f"messages[{i}]"
        if role in ("system", "developer"):
            for part in _content_parts(msg.get("content"), f"{path}.content"):
                if not isinstance(part, TextPart):
                    raise TranslationError(f"{path}.content", "system content must be text")
                if role == "developer":
                    part.extras = {**(part.extras or {}), "role": "developer"}
                system.append(part)
        elif role == "user":
            parts = _content_parts(msg.get("content"), f"{path}.content")
            out.append(Message("user", parts, _rest(msg, _MESSAGE_KEYS)))
        elif role == "assistant":
            out.append(_assistant_to_ir(msg, path, names))
        elif role == "tool":
            call_id = strip_tool_call_id(msg.get("tool_call_id", ""))
            result_content = [
                p
                for p in _content_parts(msg.get("content"), f"{path}.content")
                if isinstance(p, TextPart | ImagePart | FilePart)
            ]
            result = ToolResultPart(id=call_id, name=names.get(call_id), content=result_content)
            out.append(Message("tool", [result], _rest(msg, _MESSAGE_KEYS)))
        else:
            raise TranslationError(f"{path}.role", f"unsupported role {role!r}")
    return system, out


# -- IR -> OpenAI ------------------------------------------------------------------------------


def _media_to_openai(part: Part, path: str, same: bool) -> JSON:
    if isinstance(part, TextPart):
        if part.extras and part.extras.get("refusal") and same:
            return {"type": "refusal", "refusal": part.text}
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else data_url(part.media_type, part.data or "")
        image: JSON = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, FilePart) and part.data is not None:
        media = part.media_type or ""
        if media.startswith("audio/"):
            fmt = _AUDIO_MEDIA.get(media)
            if fmt is None:
                raise TranslationError(path, f"OpenAI accepts only wav/mp3 audio, not {media}")
            return {"type": "input_audio", "input_audio": {"data": part.data, "format": fmt}}
        file: JSON = {"file_data": data_url(media, part.data)}
        if part.name:
            file["filename"] = part.name
        return {"type": "file", "file": file}
    if isinstance(part, FilePart):
        raise TranslationError(path, "OpenAI accepts files only inline (base64), not by URL")
    if isinstance(part, RawPart) and part.protocol == PROTOCOL:
        return part.data
    raise TranslationError(path, f"{type(part).__name__} has no OpenAI equivalent")


def _content_value(parts: list[JSON]) -> str | list[JSON]:
    if len(parts) == 1 and parts[0].get("type") == "text":
        text: str = parts[0]["text"]
        return text
    return parts


def _tool_message(result: ToolResultPart, path: str, same: bool) -> JSON:
    parts = [_media_to_openai(p, f"{path}.content", same) for p in result.content]
    if any(p.get("type") != "text" for p in parts):
        raise TranslationError(path, "OpenAI tool messages accept text only")
    content: str | list[JSON] = _content_value(parts) if parts else ""
    return {"role": "tool", "tool_call_id": result.id, "content": content}


def _assistant_from_ir(msg: Message, path: str, same: bool) -> JSON:
    content: list[JSON] = []
    calls: list[JSON] = []
    for j, part in enumerate(msg.content):
        if isinstance(part, ToolCallPart):
            args = part.raw_arguments if part.raw_arguments is not None else dumps(part.arguments)
            calls.append(
                {
                    "id": part.id,
                    "type": "function",
                    "function": {"name": part.name, "arguments": args},
                }
            )
        elif isinstance(part, ThinkingPart):
            continue  # OpenAI takes no reasoning input in Chat Completions
        elif isinstance(part, RawPart) and part.protocol == PROTOCOL and "function" in part.data:
            calls.append(part.data)
        else:
            content.append(_media_to_openai(part, f"{path}.content[{j}]", same))
    out: JSON = {"role": "assistant"}
    out["content"] = _content_value(content) if content else None
    if calls:
        out["tool_calls"] = calls
    return out


def messages_from_ir(system: list[TextPart], messages: list[Message], same: bool) -> list[JSON]:
    out: list[JSON] = []
    if same:  # one message per original system/developer message
        for sys_part in system:
            role = (sys_part.extras or {}).get("role", "system")
            out.append({"role": role, "content": sys_part.text})
    elif system:
        parts = [{"type": "text", "text": p.text} for p in system]
        out.append({"role": "system", "content": _content_value(parts)})
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        if msg.role == "assistant":
            out.append(_assistant_from_ir(msg, path, same))
        else:
            # Tool results become tool messages, placed before the rest of the user turn.
            rest: list[JSON] = []
            for j, part in enumerate(msg.content):
                if isinstance(part, ToolResultPart):
                    out.append(_tool_message(part, f"{path}.content[{j}]", same))
                elif not isinstance(part, ThinkingPart):
                    rest.append(_media_to_openai(part, f"{path}.content[{j}]", same))
            if rest:
                out.append({"role": "user", "content": _content_value(rest)})
        if same and msg.extras and out:
            out[-1].update(msg.extras)
    return out

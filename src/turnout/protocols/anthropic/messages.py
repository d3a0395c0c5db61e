"""Anthropic Messages content blocks <-> IR parts and messages."""

from __future__ import annotations

from typing import Any

from turnout.ir import (
    JSON,
    FilePart,
    ImagePart,
    MediaPart,
    Message,
    Part,
    RawPart,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    TranslationError,
)
from turnout.protocols._shared import dumps
from turnout.protocols.signatures import from_anthropic_signature

PROTOCOL = "anthropic"
JSON_TOOL_NAME = "turnout_json_response"
"""Reserved tool used to emulate JSON mode; its input is returned to clients as text."""


def _rest(obj: JSON, known: tuple[str, ...]) -> JSON | None:
    extra = {k: v for k, v in obj.items() if k not in known}
    return extra or None


def _source_to_part(block: JSON, cls: type[ImagePart] | type[FilePart]) -> ImagePart | FilePart:
    source: JSON = block.get("source") or {}
    kind = source.get("type")
    cache = block.get("cache_control")
    extras = _rest(block, ("type", "source", "cache_control"))
    if kind == "base64":
        return cls(
            media_type=source.get("media_type"),
            data=source.get("data"),
            cache_control=cache,
            extras=extras,
        )
    if kind == "url":
        return cls(url=source.get("url"), cache_control=cache, extras=extras)
    if kind == "text" and cls is FilePart:
        return FilePart(
            media_type=source.get("media_type", "text/plain"),
            data=None,
            cache_control=cache,
            extras={**(extras or {}), "text": source.get("data", "")},
        )
    raise TranslationError("source.type", f"{kind!r} sources cannot be translated")


def block_to_part(block: JSON, names: dict[str, str]) -> Part:
    kind = block.get("type")
    if kind == "text":
        return TextPart(
            block.get("text", ""),
            block.get("cache_control"),
            _rest(block, ("type", "text", "cache_control")),
        )
    if kind == "image":
        return _source_to_part(block, ImagePart)
    if kind == "document":
        part = _source_to_part(block, FilePart)
        assert isinstance(part, FilePart)
        if part.media_type is None and part.url is not None:
            part.media_type = "application/pdf"
        part.name = block.get("title")
        return part
    if kind == "tool_use":
        names[block.get("id", "")] = block.get("name", "")
        return ToolCallPart(block.get("id", ""), block.get("name", ""), block.get("input") or {})
    if kind == "tool_result":
        call_id = block.get("tool_use_id", "")
        content = block.get("content")
        parts: list[MediaPart] = []
        if isinstance(content, str):
            parts.append(TextPart(content))
        else:
            for item in content or ():
                sub = block_to_part(item, names)
                if not isinstance(sub, TextPart | ImagePart | FilePart):
                    raise TranslationError(
                        "tool_result.content",
                        f"{item.get('type')!r} blocks cannot be translated inside tool results",
                    )
                parts.append(sub)
        return ToolResultPart(
            call_id,
            names.get(call_id),
            parts,
            bool(block.get("is_error")),
            block.get("cache_control"),
        )
    if kind == "thinking":
        signature, source = from_anthropic_signature(block.get("signature"))
        return ThinkingPart(block.get("thinking", ""), signature, source=source)
    if kind == "redacted_thinking":
        return ThinkingPart(redacted=block.get("data", ""), source="anthropic")
    return RawPart(PROTOCOL, block)


def content_to_parts(content: Any, names: dict[str, str]) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    return [block_to_part(b, names) for b in content or ()]


def system_to_ir(system: Any) -> list[TextPart]:
    if not system:
        return []
    if isinstance(system, str):
        return [TextPart(system)]
    return [
        TextPart(
            b.get("text", ""), b.get("cache_control"), _rest(b, ("type", "text", "cache_control"))
        )
        for b in system
    ]


def messages_to_ir(messages: list[JSON]) -> list[Message]:
    names: dict[str, str] = {}
    out: list[Message] = []
    for msg in messages:
        role: Role = "assistant" if msg.get("role") == "assistant" else "user"
        out.append(
            Message(
                role, content_to_parts(msg.get("content"), names), _rest(msg, ("role", "content"))
            )
        )
    return out


# -- IR -> Anthropic ---------------------------------------------------------------------------


def _with_cache(block: JSON, cache: JSON | None) -> JSON:
    if cache is not None:
        block["cache_control"] = cache
    return block


def _media_block(part: ImagePart | FilePart, path: str) -> JSON:
    if isinstance(part, ImagePart):
        kind = "image"
    elif part.extras and "text" in part.extras:
        return _with_cache(
            {
                "type": "document",
                "source": {
                    "type": "text",
                    "media_type": part.media_type or "text/plain",
                    "data": part.extras["text"],
                },
            },
            part.cache_control,
        )
    elif (part.media_type or "application/pdf") == "application/pdf":
        kind = "document"
    else:
        raise TranslationError(path, f"Anthropic does not accept {part.media_type} content")
    if part.data is not None:
        source: JSON = {"type": "base64", "media_type": part.media_type, "data": part.data}
    elif part.url is not None:
        source = {"type": "url", "url": part.url}
    else:
        raise TranslationError(path, "media part has neither data nor url")
    block: JSON = {"type": kind, "source": source}
    if isinstance(part, FilePart) and part.name:
        block["title"] = part.name
    return _with_cache(block, part.cache_control)


def part_to_block(part: Part, path: str, same: bool) -> JSON | None:
    """One block, or None for parts Anthropic must not receive (foreign thinking state)."""
    if isinstance(part, TextPart):
        if not part.text:
            return None  # Anthropic rejects empty text blocks
        block: JSON = {"type": "text", "text": part.text}
        if same and part.extras:
            block.update(part.extras)
        return _with_cache(block, part.cache_control)
    if isinstance(part, ImagePart | FilePart):
        return _media_block(part, path)
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        inner = [
            b
            for j, p in enumerate(part.content)
            if (b := part_to_block(p, f"{path}.content[{j}]", same)) is not None
        ]
        result: JSON = {"type": "tool_result", "tool_use_id": part.id}
        if len(inner) == 1 and inner[0]["type"] == "text" and len(inner[0]) == 2:
            result["content"] = inner[0]["text"]
        else:
            result["content"] = inner
        if part.is_error:
            result["is_error"] = True
        return _with_cache(result, part.cache_control)
    if isinstance(part, ThinkingPart):
        if part.source != "anthropic":
            return None  # unsigned or minted elsewhere: Anthropic would reject it
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted}
        return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    if part.protocol == PROTOCOL:
        return part.data
    raise TranslationError(
        path,
        f"a {part.protocol} {part.data.get('type', 'part')!r} part has no Anthropic equivalent",
    )


def system_from_ir(system: list[TextPart], same: bool) -> str | list[JSON] | None:
    if not system:
        return None
    if len(system) == 1 and system[0].cache_control is None and not system[0].extras:
        return system[0].text
    blocks = []
    for part in system:
        block: JSON = {"type": "text", "text": part.text}
        if same and part.extras:
            block.update(part.extras)
        blocks.append(_with_cache(block, part.cache_control))
    return blocks


def messages_from_ir(messages: list[Message], same: bool) -> list[JSON]:
    """Anthropic wants user/assistant alternation and tool results first in a user turn."""
    out: list[JSON] = []
    for i, msg in enumerate(messages):
        role = "assistant" if msg.role == "assistant" else "user"
        blocks = [
            b
            for j, p in enumerate(msg.content)
            if (b := part_to_block(p, f"messages[{i}].content[{j}]", same)) is not None
        ]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            item: JSON = {"role": role, "content": blocks}
            if same and msg.extras:
                item.update(msg.extras)
            out.append(item)
    for item in out:
        if item["role"] == "user" and any(b.get("type") == "tool_result" for b in item["content"]):
            item["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return out


def json_tool_text(arguments: JSON) -> str:
    return dumps(arguments)

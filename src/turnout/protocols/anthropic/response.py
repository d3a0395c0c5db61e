"""Anthropic ``message`` body <-> IRResponse, plus finish-reason and usage maps."""

from __future__ import annotations

from turnout.ir import (
    JSON,
    FinishReason,
    IRResponse,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from turnout.ir.response import copy_usage, count
from turnout.protocols.anthropic.messages import (
    JSON_TOOL_NAME,
    PROTOCOL,
    block_to_part,
    json_tool_text,
)
from turnout.protocols.signatures import to_anthropic_signature

FINISH_TO_IR: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.OTHER,
}
FINISH_FROM_IR: dict[FinishReason, str] = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
    FinishReason.ERROR: "end_turn",
    FinishReason.OTHER: "end_turn",
}


def finish_to_ir(raw: str | None, json_tool_only: bool = False) -> FinishReason | None:
    if raw is None:
        return None
    if raw == "tool_use" and json_tool_only:
        return FinishReason.STOP
    return FINISH_TO_IR.get(raw, FinishReason.OTHER)


def finish_from_ir(reason: FinishReason | None, stop_sequence: str | None) -> str:
    if reason is FinishReason.STOP and stop_sequence:
        return "stop_sequence"
    return FINISH_FROM_IR[reason] if reason is not None else "end_turn"


def usage_to_ir(usage: object, base: Usage | None = None) -> Usage:
    """Merge an Anthropic usage object (cumulative; fields may be omitted) into IR usage.

    Anthropic's ``input_tokens`` excludes cache reads and writes; IR input includes both.
    """
    out = Usage() if base is None else copy_usage(base)
    if not isinstance(usage, dict):
        return out
    get = usage.get
    read = get("cache_read_input_tokens")
    write = get("cache_creation_input_tokens")
    if read is not None:
        out.cached_input_tokens = count(read)
    if write is not None:
        out.cache_creation_tokens = count(write)
    if (given := get("input_tokens")) is not None:
        out.input_tokens = count(given) + out.cached_input_tokens + out.cache_creation_tokens
    elif read is not None or write is not None:
        out.input_tokens = max(
            out.input_tokens, out.cached_input_tokens + out.cache_creation_tokens
        )
    if (output := get("output_tokens")) is not None:
        out.output_tokens = count(output)
    return out


def usage_from_ir(usage: Usage) -> JSON:
    fresh = usage.input_tokens - usage.cached_input_tokens - usage.cache_creation_tokens
    return {
        "input_tokens": max(fresh, 0),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }


def to_ir(body: JSON) -> IRResponse:
    names: dict[str, str] = {}
    content: list[Part] = []
    real_tools = False
    for block in body.get("content") or ():
        if block.get("type") == "tool_use" and block.get("name") == JSON_TOOL_NAME:
            content.append(TextPart(json_tool_text(block.get("input") or {})))
            continue
        part = block_to_part(block, names)
        real_tools = real_tools or isinstance(part, ToolCallPart)
        content.append(part)
    raw = body.get("stop_reason")
    usage = body.get("usage")
    extras: JSON = {k: body[k] for k in ("container", "stop_details") if body.get(k)}
    return IRResponse(
        id=body.get("id"),
        model=body.get("model"),
        content=content,
        finish_reason=finish_to_ir(raw, json_tool_only=not real_tools),
        raw_finish_reason=raw,
        stop_sequence=body.get("stop_sequence"),
        usage=usage_to_ir(usage) if usage else None,
        extras=extras,
        source=PROTOCOL,
    )


def part_to_response_block(part: Part) -> JSON | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ThinkingPart):
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted}
        return {
            "type": "thinking",
            "thinking": part.text,
            "signature": to_anthropic_signature(part),
        }
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    return None


def from_ir(resp: IRResponse, public_model: str) -> JSON:
    blocks = [b for p in resp.content if (b := part_to_response_block(p)) is not None]
    body: JSON = {
        "id": resp.id or "msg_turnout",
        "type": "message",
        "role": "assistant",
        "model": public_model,
        "content": blocks,
        "stop_reason": finish_from_ir(resp.finish_reason, resp.stop_sequence),
        "stop_sequence": resp.stop_sequence,
        "usage": usage_from_ir(resp.usage or Usage()),
    }
    if resp.source == PROTOCOL:
        body.update(resp.extras)
    return body

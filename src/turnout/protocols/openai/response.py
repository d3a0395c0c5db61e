"""OpenAI ``chat.completion`` body <-> IRResponse, plus the finish-reason/usage maps."""

from __future__ import annotations

import time
from typing import Any

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
from turnout.ir.response import count, maybe_count, section
from turnout.protocols._shared import dumps, parse_arguments
from turnout.protocols.signatures import carries_state, encode_tool_call_id

PROTOCOL = "openai"

FINISH_TO_IR: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}
FINISH_FROM_IR: dict[FinishReason, str] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
    FinishReason.ERROR: "stop",
    FinishReason.OTHER: "stop",
}


def finish_to_ir(raw: str | None) -> FinishReason | None:
    if raw is None:
        return None
    return FINISH_TO_IR.get(raw, FinishReason.OTHER)


def usage_to_ir(usage: object) -> Usage | None:
    if not usage or not isinstance(usage, dict):
        return None
    get = usage.get
    # Positional (read on every call's drain): input, output, cached input, cache creation,
    # reasoning, total.
    return Usage(
        count(get("prompt_tokens")),
        count(get("completion_tokens")),
        count(section(get("prompt_tokens_details")).get("cached_tokens")),
        0,
        count(section(get("completion_tokens_details")).get("reasoning_tokens")),
        maybe_count(get("total_tokens")),
    )


def usage_from_ir(usage: Usage) -> JSON:
    out: JSON = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total(),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
    }
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def to_ir(body: JSON) -> IRResponse:
    choices = body.get("choices") or []
    choice: JSON = choices[0] if choices else {}
    message: JSON = choice.get("message") or {}
    content: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(ThinkingPart(reasoning))
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append(TextPart(text))
    if message.get("refusal"):
        content.append(TextPart(message["refusal"], extras={"refusal": True}))
    for k, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {}
        raw = fn.get("arguments")
        content.append(
            ToolCallPart(
                id=call.get("id") or f"call_{k}",
                name=fn.get("name", ""),
                arguments=parse_arguments(raw, f"choices[0].message.tool_calls[{k}]"),
                raw_arguments=raw,
            )
        )
    raw_finish = choice.get("finish_reason")
    extras: JSON = {k: body[k] for k in ("system_fingerprint", "service_tier") if k in body}
    return IRResponse(
        id=body.get("id"),
        model=body.get("model"),
        content=content,
        finish_reason=finish_to_ir(raw_finish),
        raw_finish_reason=raw_finish,
        usage=usage_to_ir(body.get("usage")),
        created=body.get("created"),
        extras=extras,
        source=PROTOCOL,
    )


def message_from_parts(parts: list[Part]) -> JSON:
    """The assistant message; signed thinking rides in the next tool call's id."""
    texts: list[str] = []
    reasoning: list[str] = []
    pending: list[ThinkingPart] = []
    calls: list[JSON] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ThinkingPart):
            if part.text:
                reasoning.append(part.text)
            if carries_state(part):
                pending.append(part)
        elif isinstance(part, ToolCallPart):
            args = part.raw_arguments if part.raw_arguments is not None else dumps(part.arguments)
            calls.append(
                {
                    "id": encode_tool_call_id(part.id, pending),
                    "type": "function",
                    "function": {"name": part.name, "arguments": args},
                }
            )
            pending = []
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def from_ir(resp: IRResponse, public_model: str) -> JSON:
    finish: Any = None
    if resp.finish_reason is not None:
        finish = FINISH_FROM_IR[resp.finish_reason]
    body: JSON = {
        "id": resp.id or "chatcmpl-turnout",
        "object": "chat.completion",
        "created": resp.created if resp.created is not None else int(time.time()),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": message_from_parts(resp.content),
                "finish_reason": finish or "stop",
                "logprobs": None,
            }
        ],
    }
    if resp.usage is not None:
        body["usage"] = usage_from_ir(resp.usage)
    if resp.source == PROTOCOL:
        body.update(resp.extras)
    return body

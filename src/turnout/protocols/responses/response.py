"""Responses API ``response`` object <-> IRResponse, plus the usage and status maps the stream
codecs share.

A translated answer echoes no request parameters (``tools: []``, ``tool_choice: "auto"``):
the SDK reads its own request's tools when it parses tool calls or structured output.
"""

from __future__ import annotations

import os
import time
from typing import Any

from turnout.ir import (
    JSON,
    FinishReason,
    IRResponse,
    Part,
    RawPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from turnout.ir.response import count, maybe_count, section
from turnout.protocols._shared import dumps, parse_arguments
from turnout.protocols.responses import reasoning
from turnout.protocols.responses.items import PROTOCOL
from turnout.protocols.signatures import carries_state


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def usage_to_ir(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    details = section(usage.get("input_tokens_details"))
    out = section(usage.get("output_tokens_details"))
    return Usage(
        input_tokens=count(usage.get("input_tokens")),
        output_tokens=count(usage.get("output_tokens")),
        cached_input_tokens=count(details.get("cached_tokens")),
        cache_creation_tokens=count(details.get("cache_write_tokens")),
        reasoning_tokens=count(out.get("reasoning_tokens")),
        total_tokens=maybe_count(usage.get("total_tokens")),
    )


def usage_from_ir(usage: Usage) -> JSON:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total(),
    }


def status_of(reason: FinishReason | None) -> tuple[str, JSON | None]:
    """(status, incomplete_details) of a response that ended for ``reason``."""
    if reason == FinishReason.LENGTH:
        return "incomplete", {"reason": "max_output_tokens"}
    if reason == FinishReason.CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


# -- output items, shared with the stream encoder ----------------------------------------------


def reasoning_item(item_id: str, part: ThinkingPart, status: str = "completed") -> JSON:
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    item: JSON = {"id": item_id, "type": "reasoning", "summary": summary}
    if carries_state(part):
        item["encrypted_content"] = reasoning.encode(part)
    item["status"] = status
    return item


def message_item(item_id: str, texts: list[TextPart], status: str = "completed") -> JSON:
    content: list[JSON] = []
    for part in texts:
        if part.extras and part.extras.get("refusal"):
            content.append({"type": "refusal", "refusal": part.text})
        else:
            content.append(
                {"type": "output_text", "text": part.text, "annotations": [], "logprobs": []}
            )
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> JSON:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def envelope(
    response_id: str,
    model: str,
    created: int,
    status: str,
    output: list[JSON],
    usage: Usage | None,
    incomplete: JSON | None = None,
    error: JSON | None = None,
) -> JSON:
    """The ``response`` object: what a finished answer, and every lifecycle event, carries."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": usage_from_ir(usage) if usage is not None else None,
        "user": None,
        "metadata": {},
    }


def output_from_parts(parts: list[Part]) -> list[JSON]:
    out: list[JSON] = []
    texts: list[TextPart] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part)
            continue
        if texts:
            out.append(message_item(new_id("msg"), texts))
            texts = []
        if isinstance(part, ThinkingPart):
            out.append(reasoning_item(new_id("rs"), part))
        elif isinstance(part, ToolCallPart):
            args = part.raw_arguments if part.raw_arguments is not None else dumps(part.arguments)
            out.append(call_item(new_id("fc"), part.id, part.name, args, "completed"))
        elif isinstance(part, RawPart) and part.protocol == PROTOCOL:
            out.append(part.data)
    if texts:
        out.append(message_item(new_id("msg"), texts))
    return out


def from_ir(resp: IRResponse, public_model: str) -> JSON:
    status, incomplete = status_of(resp.finish_reason)
    created = resp.created if resp.created is not None else int(time.time())
    rid = resp.id if resp.id and resp.id.startswith("resp_") else new_id("resp")
    output = output_from_parts(resp.content)
    body = envelope(rid, public_model, created, status, output, resp.usage or Usage(), incomplete)
    body["completed_at"] = created if status == "completed" else None
    return body


# -- Responses -> IR ---------------------------------------------------------------------------


def parts_from_output(output: list[JSON]) -> list[Part]:
    parts: list[Part] = []
    for k, item in enumerate(output):
        kind = item.get("type")
        if kind == "message":
            for c in item.get("content") or ():
                if c.get("type") == "output_text":
                    parts.append(TextPart(c.get("text", "")))
                elif c.get("type") == "refusal":
                    parts.append(TextPart(c.get("refusal", ""), extras={"refusal": True}))
        elif kind == "function_call":
            raw = item.get("arguments")
            parts.append(
                ToolCallPart(
                    id=item.get("call_id") or item.get("id") or f"call_{k}",
                    name=item.get("name", ""),
                    arguments=parse_arguments(raw, f"output[{k}].arguments"),
                    raw_arguments=raw,
                )
            )
        elif kind == "reasoning":
            carried = reasoning.decode(item.get("encrypted_content"))
            if carried is not None:
                parts.append(carried)
                continue
            text = "".join(s.get("text", "") for s in item.get("summary") or ())
            if text:
                parts.append(ThinkingPart(text))
        # Other items trace tools OpenAI ran itself (web search...): their results are in the
        # message text already, and no other protocol has a place for the trace.
    return parts


def finish_of(body: JSON, parts: list[Part]) -> FinishReason:
    if body.get("status") == "incomplete":
        reason = (body.get("incomplete_details") or {}).get("reason")
        return FinishReason.CONTENT_FILTER if reason == "content_filter" else FinishReason.LENGTH
    if any(isinstance(p, ToolCallPart) for p in parts):
        return FinishReason.TOOL_CALLS
    return FinishReason.STOP


def to_ir(body: JSON) -> IRResponse:
    parts = parts_from_output(body.get("output") or [])
    finish = finish_of(body, parts)
    created = body.get("created_at")
    return IRResponse(
        id=body.get("id"),
        model=body.get("model"),
        content=parts,
        finish_reason=finish,
        raw_finish_reason=body.get("status"),
        usage=usage_to_ir(body.get("usage")),
        created=int(created) if isinstance(created, int | float) else None,
        source=PROTOCOL,
    )

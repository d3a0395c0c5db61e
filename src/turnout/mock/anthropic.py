"""Anthropic Messages dialect of the mock: messages, count_tokens, errors.

Shapes follow docs/protocols.md §2. Streams always carry both ``event:`` and ``data:``
lines (the SDK skips frames without an event name), usage appears in ``message_start`` and
cumulatively in ``message_delta``, and a ``ping`` is sent early so a gateway proves it
tolerates event types it does not know.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from turnout.mock.content import (
    count_chars,
    scan_prompt,
    signs_thinking,
    thinking_minted,
    thinking_signature,
)
from turnout.mock.plan import (
    Facts,
    Plan,
    RequestError,
    ToolSpec,
    result_text,
    split_fragments,
    text_of,
)

_ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES: Final = {529: "Overloaded", 429: "Number of requests has exceeded your rate limit"}


def _prompt_chars(obj: dict[str, Any]) -> int:
    return count_chars(obj.get("system")) + count_chars(obj.get("messages"))


def read_count_tokens(obj: dict[str, Any]) -> tuple[str, int]:
    """Model and prompt size of a ``count_tokens`` request."""
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required", "model")
    if not isinstance(obj.get("messages"), list):
        raise RequestError("messages: Field required", "messages")
    return model, _prompt_chars(obj)


def read_messages(obj: dict[str, Any]) -> Facts:
    """Read a Messages request; raise :class:`RequestError` where Anthropic answers 400."""
    model, chars = read_count_tokens(obj)
    max_tokens = obj.get("max_tokens")
    if max_tokens is None:
        raise RequestError("max_tokens: Field required", "max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError("max_tokens: Input should be a valid integer >= 1", "max_tokens")
    messages: list[Any] = obj["messages"]
    _check_thinking(messages)
    facts = Facts(model=model, stream=obj.get("stream") is True, max_tokens=max_tokens)
    tools = obj.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            # Server tools (web search, ...) have no input_schema: the model never calls them.
            if (
                isinstance(tool, dict)
                and isinstance(tool.get("name"), str)
                and "input_schema" in tool
            ):
                facts.tools.append(ToolSpec(tool["name"], tool["input_schema"]))
    choice = obj.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "none":
            facts.tools_forbidden = True
        elif choice.get("type") == "any":
            facts.tool_required = True
        elif choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            facts.forced_tool = choice["name"]
    last_user = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), None
    )
    facts.prompt = text_of(last_user.get("content")) if last_user is not None else ""
    config = obj.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if fmt is not None else obj.get("output_format")  # the beta's spelling
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        facts.json_output = True
        schema = fmt.get("schema")
        facts.output_schema = schema if isinstance(schema, dict) else None
    if messages and isinstance(last := messages[-1], dict) and last.get("role") == "user":
        content = last.get("content")
        results = [
            result_text(b.get("content"))
            for b in (content if isinstance(content, list) else [])
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        if results:
            facts.tool_result = " ".join(results)
    thinking = obj.get("thinking")
    facts.thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    scan = scan_prompt(messages, _is_image)
    facts.prompt_chars = chars
    facts.images, facts.signatures = scan.images, scan.signatures
    return facts


def _check_thinking(messages: list[Any]) -> None:
    """Anthropic verifies every thinking block sent back against its signature, text
    included: a client (or a gateway) that changes one byte of it gets a 400."""
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list) or msg.get("role") != "assistant":
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            text, signature = block.get("thinking"), block.get("signature")
            if isinstance(text, str) and isinstance(signature, str):
                if signs_thinking(signature, text):
                    continue
                where = f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                if thinking_minted(signature):  # one of ours, minted for another text
                    raise RequestError(f"{where} (the thinking text was modified)")
                raise RequestError(where)
            raise RequestError(f"messages.{i}.content.{j}: thinking and signature are required")


def _is_image(block: dict[str, Any]) -> bool:
    return block.get("type") == "image"


def _stop_reason(plan: Plan) -> str:
    if plan.tool_call is not None:
        return "tool_use"
    return "max_tokens" if plan.truncated else "end_turn"


def _usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def message_body(plan: Plan) -> bytes:
    content: list[dict[str, Any]] = []
    if plan.thinking:
        text = "".join(plan.thinking)
        content.append(
            {"type": "thinking", "thinking": text, "signature": thinking_signature(text)}
        )
    if (call := plan.tool_call) is not None:
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_{plan.uid}",
                "name": call.name,
                "input": call.arguments,
            }
        )
    elif plan.pieces:
        content.append({"type": "text", "text": plan.text})
    return orjson.dumps(
        {
            "id": f"msg_{plan.uid}",
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": content,
            "stop_reason": _stop_reason(plan),
            "stop_sequence": None,
            "usage": _usage(plan, plan.completion_tokens),
        }
    )


def _event(data: dict[str, Any]) -> bytes:
    name: str = data["type"]
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _block(frames: list[bytes], index: int, start: dict[str, Any], deltas: list[Any]) -> None:
    frames.append(_event({"type": "content_block_start", "index": index, "content_block": start}))
    for delta in deltas:
        frames.append(_event({"type": "content_block_delta", "index": index, "delta": delta}))
    frames.append(_event({"type": "content_block_stop", "index": index}))


def message_frames(plan: Plan) -> list[bytes]:
    """message_start, ping, blocks (start/deltas/stop), message_delta, message_stop."""
    start: dict[str, Any] = {
        "id": f"msg_{plan.uid}",
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(plan, 1),
    }
    frames = [_event({"type": "message_start", "message": start}), _event({"type": "ping"})]
    index = 0
    if plan.thinking:
        deltas: list[Any] = [{"type": "thinking_delta", "thinking": t} for t in plan.thinking]
        signature = thinking_signature("".join(plan.thinking))
        deltas.append({"type": "signature_delta", "signature": signature})
        _block(frames, index, {"type": "thinking", "thinking": "", "signature": ""}, deltas)
        index += 1
    if (call := plan.tool_call) is not None:
        block = {"type": "tool_use", "id": f"toolu_{plan.uid}", "name": call.name, "input": {}}
        pieces = ["", *split_fragments(call.arguments_json, 2)]
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        _block(frames, index, block, deltas)
    elif plan.pieces:
        deltas = [{"type": "text_delta", "text": p} for p in plan.pieces]
        _block(frames, index, {"type": "text", "text": ""}, deltas)
    frames.append(
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(plan), "stop_sequence": None},
                "usage": {"output_tokens": plan.completion_tokens},
            }
        )
    )
    frames.append(_event({"type": "message_stop"}))
    return frames


def count_tokens_body(chars_tokens: int) -> bytes:
    return orjson.dumps({"input_tokens": chars_tokens})


def _error(status: int, message: str | None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    text = message or _ERROR_MESSAGES.get(status, f"Mock error {status}")
    return {"type": kind, "message": text}


def error_body(status: int, message: str | None, uid: str) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": _error(status, message), "request_id": f"req_{uid}"}
    )


def error_frame() -> bytes:
    """The in-band error Anthropic sends mid-stream (the SDK raises on ``event: error``)."""
    return _event({"type": "error", "error": _error(529, None)})


def garbage_frame() -> bytes:
    return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": \n\n'

"""Hostile whole answers and error bodies of each upstream protocol, for
test_translated_upstreams.py: a valid answer of each, then what an upstream might send in its
place."""

from __future__ import annotations

import base64
import json
from typing import Any

CHAT_WHOLE: Any = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "up",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
MESSAGES_WHOLE: Any = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "up",
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
GEMINI_WHOLE: Any = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
}
RESPONSES_WHOLE: Any = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "up",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
}
BODIES = {
    "chat": CHAT_WHOLE,
    "messages": MESSAGES_WHOLE,
    "gemini": GEMINI_WHOLE,
    "responses": RESPONSES_WHOLE,
}


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_json(raw: str) -> dict[str, Any]:
    return {"chunks": [raw]}


def raw_bytes(raw: bytes, kind: str = "application/json") -> dict[str, Any]:
    return {"type": kind, "binary": True, "chunks": [base64.b64encode(raw).decode()]}


def whole_cases(upstream: str) -> dict[str, dict[str, Any]]:
    """Hostile whole answers for an upstream of ``upstream``'s protocol."""
    body = BODIES[upstream]
    text = json.dumps(body)
    cases: dict[str, dict[str, Any]] = {
        "html": {"type": "text/html", "chunks": ["<html><body>Bad gateway</body></html>"]},
        "empty": {"chunks": []},
        "null": raw_json("null"),
        "array": raw_json(f"[{text}]"),
        "string": raw_json('"Hi"'),
        "nan": raw_json(text.replace('"Hi"', "NaN")),
        "infinity": raw_json(text.replace("3", "Infinity", 1)),
        "bigint": raw_json(text.replace("3", "1" + "0" * 30, 1)),
        "negative-bigint": raw_json(text.replace("3", "-1" + "0" * 30, 1)),
        "float-count": raw_json(text.replace("3", "3.5", 1)),
        "string-count": raw_json(text.replace("3", '"3"', 1)),
        "deep": raw_json(text.replace('"Hi"', deep(5000))),
        "deep-ok": raw_json(text.replace('"Hi"', deep(200))),
        "non-utf8": raw_bytes(text.replace("Hi", "H\udcffi").encode("utf-8", "surrogateescape")),
        "bad-escape": raw_json(text.replace("Hi", "H\\ud800i")),
        "duplicate-keys": raw_json(text[:-1] + ', "id": {"x": 1}}'),
        "trailing": raw_json(text + " garbage"),
        "sse-body": {"type": "text/event-stream", "chunks": [f"data: {text}\n\n"]},
        "usage-string": raw_json(json.dumps(_with_usage(upstream, body, "lots"))),
        "usage-array": raw_json(json.dumps(_with_usage(upstream, body, [1, 2]))),
    }
    for other, other_body in BODIES.items():
        if other != upstream:
            cases[f"as-{other}"] = raw_json(json.dumps(other_body))
    for depth in (200, 600):  # past orjson's writing depth (255), within its reading one (1024)
        cases[f"deep-arguments-{depth}"] = raw_json(_tool_answer(upstream, depth))
    return cases


def _tool_answer(upstream: str, depth: int) -> str:
    """A whole answer of one tool call whose arguments nest ``depth`` deep."""
    args = '{"a": ' + deep(depth) + "}"
    if upstream == "chat":
        call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "@"}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        body: Any = {**CHAT_WHOLE, "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip
        return json.dumps(body).replace('"@"', json.dumps(args))
    if upstream == "messages":
        block = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": "@"}
        body = {**MESSAGES_WHOLE, "content": [block], "stop_reason": "tool_use"}
        return json.dumps(body).replace('"@"', args)
    if upstream == "gemini":
        part = {"functionCall": {"name": "f", "args": "@"}}
        body = {**GEMINI_WHOLE, "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}  # fmt: skip
        return json.dumps(body).replace('"@"', args)
    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
            "arguments": "@", "status": "completed"}  # fmt: skip
    return json.dumps({**RESPONSES_WHOLE, "output": [item]}).replace('"@"', json.dumps(args))


def _with_usage(upstream: str, body: Any, usage: Any) -> Any:
    name = "usageMetadata" if upstream == "gemini" else "usage"
    return {**body, name: usage}


def error_cases(upstream: str) -> dict[str, Any]:
    """Error bodies an upstream of ``upstream``'s protocol might send with a 4xx or 5xx."""
    nested = deep(600)
    if upstream == "messages":
        shaped = '{"type": "error", "error": {"type": "api_error", "message": @}}'
    elif upstream == "gemini":
        shaped = '{"error": {"code": 500, "status": "INTERNAL", "message": @, "details": @}}'
    else:
        shaped = '{"error": {"type": "server_error", "message": @, "param": @, "code": @}}'
    return {
        "html": {"type": "text/html", "chunks": ["<html>oops</html>"]},
        "deep-fields": raw_json(shaped.replace("@", nested)),
        "deep-error": raw_json('{"error": ' + nested + "}"),
        "odd-fields": raw_json(shaped.replace("@", '{"a": [1, null, 1e300]}')),
        "non-utf8": raw_bytes(shaped.replace("@", '"H\udcffi"').encode("utf-8", "surrogateescape")),
        "bigint": raw_json(shaped.replace("@", "1" + "0" * 30)),
        "code-past-http": raw_json(shaped.replace("500", "99999").replace("@", '"x"')),
        "code-2xx": raw_json(shaped.replace("500", "200").replace("@", '"x"')),
        "code-huge": raw_json(shaped.replace("500", str(2**63 - 1)).replace("@", '"x"')),
    }

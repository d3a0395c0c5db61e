"""Realistic upstream bodies and SSE streams (shapes from docs/protocols.md)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

# Valid standard base64 with '+' and '/', so url-safe re-encoding by google-genai is exercised.
ANTHROPIC_SIG = base64.b64encode(bytes(range(248, 256)) + b"anthropic-signature").decode()
GEMINI_SIG = base64.b64encode(bytes(range(250, 256)) + b"gemini-thought-sig").decode()


def sse(*objs: Any, events: bool = False, done: bool = False, crlf: bool = False) -> bytes:
    nl = b"\r\n" if crlf else b"\n"
    out = []
    for obj in objs:
        data = orjson.dumps(obj)
        head = b"event: " + obj["type"].encode() + nl if events else b""
        out.append(head + b"data: " + data + nl + nl)
    if done:
        out.append(b"data: [DONE]" + nl + nl)
    return b"".join(out)


def _oa(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _oa_tool(index: int, args: str, call_id: str | None = None, name: str | None = None) -> Any:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if call_id:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return _oa({"tool_calls": [call]})


OPENAI_USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 5,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 2},
}

OPENAI_TOOL_STREAM = sse(
    _oa({"role": "assistant", "content": "", "refusal": None}),
    _oa({"reasoning_content": "Weather needs a tool."}),
    _oa({"content": "Let me "}),
    _oa({"content": "check."}),
    _oa_tool(0, "", "call_1", "get_weather"),
    _oa_tool(0, '{"city"'),
    _oa_tool(0, ':"Paris"}'),
    _oa_tool(1, "", "call_2", "get_time"),
    _oa_tool(1, '{"tz":"CET"}'),
    _oa({}, "tool_calls"),
    {**_oa({}), "choices": [], "usage": OPENAI_USAGE},
    done=True,
)

OPENAI_TEXT_STREAM = sse(
    _oa({"role": "assistant", "content": ""}),
    _oa({"content": "Hello"}),
    _oa({"content": " world"}),
    _oa({}, "stop"),
    {**_oa({}), "choices": [], "usage": OPENAI_USAGE},
    done=True,
    crlf=True,
)


def _an_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


ANTHROPIC_TOOL_STREAM = sse(
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 6,
                "output_tokens": 1,
                "cache_read_input_tokens": 4,
                "cache_creation_input_tokens": 0,
            },
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {"type": "ping"},
    _an_delta(0, {"type": "thinking_delta", "thinking": "Weather needs a tool."}),
    _an_delta(0, {"type": "signature_delta", "signature": ANTHROPIC_SIG}),
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    _an_delta(1, {"type": "text_delta", "text": "Let me "}),
    _an_delta(1, {"type": "text_delta", "text": "check."}),
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    },
    _an_delta(2, {"type": "input_json_delta", "partial_json": ""}),
    _an_delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Par'}),
    _an_delta(2, {"type": "input_json_delta", "partial_json": 'is"}'}),
    {"type": "content_block_stop", "index": 2},
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
    },
    _an_delta(3, {"type": "input_json_delta", "partial_json": '{"tz": "CET"}'}),
    {"type": "content_block_stop", "index": 3},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
    {"type": "message_stop"},
    events=True,
)

ANTHROPIC_TEXT_STREAM = sse(
    {
        "type": "message_start",
        "message": {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 8, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    _an_delta(0, {"type": "text_delta", "text": "Hello"}),
    _an_delta(0, {"type": "text_delta", "text": " world"}),
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
    {"type": "message_stop"},
    events=True,
    crlf=True,
)


def _gm(parts: list[Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-x", "responseId": "resp1"}
    if usage:
        body["usageMetadata"] = usage
    return body


GEMINI_USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 3,
    "thoughtsTokenCount": 2,
    "totalTokenCount": 15,
    "cachedContentTokenCount": 2,
}

GEMINI_TOOL_STREAM = sse(
    _gm([{"text": "Weather needs a tool.", "thought": True}]),
    _gm([{"text": "Let me "}]),
    _gm([{"text": "check."}]),
    _gm(
        [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": GEMINI_SIG,
            },
            {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}},
        ],
        "STOP",
        GEMINI_USAGE,
    ),
)

GEMINI_TEXT_STREAM = sse(
    _gm([{"text": "Hello"}]),
    _gm([{"text": " world"}], "STOP", GEMINI_USAGE),
    crlf=True,
)

UPSTREAM_STREAMS: dict[str, dict[str, bytes]] = {
    "openai": {"tool": OPENAI_TOOL_STREAM, "text": OPENAI_TEXT_STREAM},
    "anthropic": {"tool": ANTHROPIC_TOOL_STREAM, "text": ANTHROPIC_TEXT_STREAM},
    "gemini": {"tool": GEMINI_TOOL_STREAM, "text": GEMINI_TEXT_STREAM},
}

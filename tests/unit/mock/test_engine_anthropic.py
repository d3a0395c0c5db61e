from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.mock.helpers import body_json, call, header, sse_events
from turnout.mock.content import thinking_signature

MSGS = "/v1/messages"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris today?"}]
TOOL = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 2}},
        "required": ["city", "days"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 1024}


def req(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": MESSAGES, **extra}


def test_non_stream_shape() -> None:
    resp = call(MSGS, req(), headers={"x-api-key": "k", "x-mock-tokens": "3"})
    data = body_json(resp)
    assert data["type"] == "message" and data["role"] == "assistant"
    assert data["id"].startswith("msg_") and data["model"] == "claude-x"
    assert data["content"] == [{"type": "text", "text": "Lorem ipsum dolor"}]
    assert data["stop_reason"] == "end_turn" and data["stop_sequence"] is None
    assert data["usage"]["output_tokens"] == 3 and data["usage"]["input_tokens"] == 9
    assert header(resp, "x-mock-auth") == "x-api-key"
    assert (header(resp, "request-id") or "").startswith("req_")


def test_max_tokens_is_required_and_honoured() -> None:
    body = req()
    del body["max_tokens"]
    resp = call(MSGS, body)
    assert resp.status == 400
    err = body_json(resp)
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    data = body_json(call(MSGS, req(max_tokens=2), headers={"x-mock-tokens": "9"}))
    assert data["stop_reason"] == "max_tokens" and data["usage"]["output_tokens"] == 2


def test_stream_event_sequence() -> None:
    events = sse_events(call(MSGS, req(stream=True), headers={"x-mock-tokens": "4"}))
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] == 9 and start["content"] == []
    deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert deltas == ["Lorem", " ipsum", " dolor", " sit"]
    (msg_delta,) = [d for n, d in events if n == "message_delta"]
    assert msg_delta["delta"]["stop_reason"] == "end_turn"
    assert msg_delta["usage"]["output_tokens"] == 4
    assert names.count("content_block_start") == names.count("content_block_stop") == 1


FIRST = {"x-mock-tools": "first"}  # tool-call plumbing: call the tool whatever the prompt


def test_tool_use_non_stream_and_stream() -> None:
    data = body_json(call(MSGS, req(tools=[TOOL]), headers=FIRST))
    assert data["stop_reason"] == "tool_use"
    (block,) = data["content"]
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_")
    assert block["input"] == {"city": "example", "days": 2}
    events = sse_events(call(MSGS, req(tools=[TOOL], stream=True), headers=FIRST))
    start = next(d for n, d in events if n == "content_block_start")
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["input"] == {}
    parts = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len([p for p in parts if p]) >= 2
    assert orjson.loads("".join(parts)) == {"city": "example", "days": 2}
    assert next(d for n, d in events if n == "message_delta")["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("choice", "expect_tool"),
    [({"type": "none"}, False), ({"type": "auto"}, False), ({"type": "any"}, True)],
)
def test_tool_choice(choice: dict[str, Any], expect_tool: bool) -> None:
    data = body_json(call(MSGS, req(tools=[TOOL], tool_choice=choice)))
    assert (data["stop_reason"] == "tool_use") is expect_tool


def test_tool_result_round_trip_text() -> None:
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "rainy 12C"}],
                }
            ],
        },
    ]
    data = body_json(call(MSGS, req(messages=messages, tools=[TOOL])))
    assert data["stop_reason"] == "end_turn"
    assert "rainy 12C" in data["content"][0]["text"]


def test_thinking_block_with_signature() -> None:
    data = body_json(call(MSGS, req(thinking=THINKING, tools=[TOOL]), headers=FIRST))
    thinking, tool = data["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"] and thinking["signature"]
    assert tool["type"] == "tool_use"
    events = sse_events(call(MSGS, req(thinking=THINKING, stream=True)))
    block0 = [d for n, d in events if d.get("index") == 0]
    assert block0[0]["content_block"]["type"] == "thinking"
    kinds = [d["delta"]["type"] for d in block0 if "delta" in d]
    assert kinds[-1] == "signature_delta" and set(kinds[:-1]) == {"thinking_delta"}
    assert block0[-1]["type"] == "content_block_stop"
    starts = [d["index"] for n, d in events if n == "content_block_start"]
    assert starts == [0, 1]


def test_signatures_and_images_are_counted() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "text", "text": "hi"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": thinking_signature("t")},
                {"type": "text", "text": "ok"},
            ],
        },
        {"role": "user", "content": "again"},
    ]
    resp = call(MSGS, req(messages=messages), headers={"authorization": "Bearer x"})
    assert header(resp, "x-mock-images-received") == "2"
    assert header(resp, "x-mock-signatures-received") == "1"
    assert header(resp, "x-mock-auth") == "bearer"


def test_thinking_sent_back_must_match_its_signature() -> None:
    """Anthropic verifies the thinking text against its signature: one byte off is a 400."""
    first = body_json(call(MSGS, req(thinking=THINKING, tools=[TOOL]), headers=FIRST))
    thinking, tool = first["content"]
    result = {"type": "tool_result", "tool_use_id": tool["id"], "content": "sunny"}

    def turn2(block: dict[str, Any]) -> Any:
        messages = [*MESSAGES, {"role": "assistant", "content": [block, tool]},
                    {"role": "user", "content": [result]}]  # fmt: skip
        return call(MSGS, req(messages=messages, thinking=THINKING, tools=[TOOL]))

    assert turn2(thinking).status == 200
    modified = turn2({**thinking, "thinking": thinking["thinking"] + " "})
    assert modified.status == 400
    assert "the thinking text was modified" in body_json(modified)["error"]["message"]
    forged = turn2({**thinking, "signature": "c2lnbmF0dXJl"})
    assert forged.status == 400
    assert "Invalid `signature` in `thinking` block" in body_json(forged)["error"]["message"]


def test_count_tokens() -> None:
    data = body_json(call("/v1/messages/count_tokens", {"model": "c", "messages": MESSAGES}))
    assert data == {"input_tokens": 9}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (401, "authentication_error"),
    ],
)
def test_error_statuses(status: int, kind: str) -> None:
    resp = call(MSGS, req(), headers={"x-mock-status": str(status)})
    data = body_json(resp)
    assert resp.status == status
    assert data["type"] == "error" and data["error"]["type"] == kind
    assert data["request_id"].startswith("req_")

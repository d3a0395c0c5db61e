from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tests.unit.mock.helpers import body_json, call, header, sse_data
from turnout.mock.engine import respond
from turnout.mock.settings import MockSettings

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris today?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "unit"],
        },
    },
}
OTHER_TOOL = {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-x", "messages": MESSAGES, **extra}


def test_non_stream_shape_and_usage() -> None:
    resp = call(CHAT, chat(), headers={"authorization": "Bearer sk-secret", "x-mock-tokens": "5"})
    assert resp.status == 200 and resp.frames is None
    data = body_json(resp)
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    assert data["model"] == "gpt-x"
    choice = data["choices"][0]
    assert choice["index"] == 0 and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Lorem ipsum dolor sit amet"
    usage = data["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["prompt_tokens"] == 9  # ceil(35 chars / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert header(resp, "content-type") == "application/json"
    assert header(resp, "x-mock-request-model") == "gpt-x"
    assert header(resp, "x-mock-auth") == "bearer"
    assert "sk-secret" not in repr(resp.headers)


def test_prefix_free_base_url_is_accepted() -> None:
    assert call("/chat/completions", chat()).status == 200
    assert call("/embeddings", {"model": "e", "input": "x"}).status == 200
    assert call("/models", method="GET").status == 200


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_length(key: str) -> None:
    data = body_json(call(CHAT, chat(**{key: 3}), headers={"x-mock-tokens": "10"}))
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3


def test_stream_frames_in_order_with_usage_chunk() -> None:
    body = chat(stream=True, stream_options={"include_usage": True})
    resp = call(CHAT, body, headers={"x-mock-tokens": "20"})
    assert header(resp, "content-type") == "text/event-stream"
    chunks = sse_data(resp)
    assert chunks[-1] == "[DONE]"
    *objs, usage_chunk = chunks[:-1]
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [c["choices"][0]["delta"].get("content") for c in objs[1:-1]]
    assert len(contents) == 20 and all(contents)
    finishes = [c["choices"][0]["finish_reason"] for c in objs]
    assert finishes.count("stop") == 1 and finishes[-1] == "stop"
    assert all(c["object"] == "chat.completion.chunk" and c["usage"] is None for c in objs)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 20


def test_stream_without_include_usage_has_no_usage_field() -> None:
    chunks = sse_data(call(CHAT, chat(stream=True), headers={"x-mock-tokens": "2"}))
    assert chunks[-1] == "[DONE]"
    assert all("usage" not in c for c in chunks[:-1])
    assert len(chunks) == 1 + 2 + 1 + 1


FIRST = {"x-mock-tools": "first"}  # tool-call plumbing: call the tool whatever the prompt


def test_tool_call_non_stream_fits_schema() -> None:
    data = body_json(call(CHAT, chat(tools=[TOOL, OTHER_TOOL]), headers=FIRST))
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (tc,) = choice["message"]["tool_calls"]
    assert tc["type"] == "function" and tc["id"].startswith("call_")
    assert tc["function"]["name"] == "get_weather"
    assert orjson.loads(tc["function"]["arguments"]) == {"city": "example", "unit": "c"}


def test_tool_choice_forces_named_tool_and_none_forbids() -> None:
    forced = {"type": "function", "function": {"name": "other"}}
    data = body_json(call(CHAT, chat(tools=[TOOL, OTHER_TOOL], tool_choice=forced)))
    assert data["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "other"
    data = body_json(call(CHAT, chat(tools=[TOOL], tool_choice="none")))
    assert data["choices"][0]["finish_reason"] == "stop"
    missing = {"type": "function", "function": {"name": "nope"}}
    assert call(CHAT, chat(tools=[TOOL], tool_choice=missing)).status == 400


def test_tool_call_stream_fragments_concatenate() -> None:
    chunks = sse_data(call(CHAT, chat(tools=[TOOL], stream=True), headers=FIRST))
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "get_weather"
    assert all(tc["index"] == 0 for tc in calls)
    fragments = [tc["function"]["arguments"] for tc in calls[1:]]
    assert len(fragments) >= 2
    assert orjson.loads("".join(fragments)) == {"city": "example", "unit": "c"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_result_is_answered_with_text_mentioning_it() -> None:
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny 21C"},
    ]
    data = body_json(call(CHAT, {"model": "m", "messages": messages, "tools": [TOOL]}))
    assert data["choices"][0]["finish_reason"] == "stop"
    assert "sunny 21C" in data["choices"][0]["message"]["content"]


def test_reasoning_effort_reports_reasoning_tokens() -> None:
    data = body_json(call(CHAT, chat(reasoning_effort="high"), headers={"x-mock-tokens": "4"}))
    usage = data["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert usage["completion_tokens"] == 4 + usage["completion_tokens_details"]["reasoning_tokens"]
    plain = body_json(call(CHAT, chat()))
    assert plain["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_images_are_counted() -> None:
    content = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    resp = call(CHAT, {"model": "m", "messages": [{"role": "user", "content": content}]})
    assert header(resp, "x-mock-images-received") == "2"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"messages": MESSAGES}, 400),
        ({"model": "m"}, 400),
        ({"model": "m", "messages": MESSAGES, "max_tokens": 0}, 400),
    ],
)
def test_invalid_requests(body: dict[str, Any], status: int) -> None:
    resp = call(CHAT, body)
    assert resp.status == status
    err = body_json(resp)["error"]
    assert err["type"] == "invalid_request_error" and err["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_malformed_json_is_400(raw: bytes) -> None:
    resp = respond("POST", CHAT, "", {}, raw, MockSettings())
    assert resp.status == 400
    assert body_json(resp)["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_error"), (503, "server_error")])
def test_status_override_error_shape(status: int, kind: str) -> None:
    headers = {"x-mock-status": str(status), "x-mock-retry-after": "3"}
    resp = call(CHAT, chat(), headers=headers)
    assert resp.status == status
    assert body_json(resp)["error"]["type"] == kind
    assert header(resp, "retry-after") == "3"


def test_embeddings_float_and_base64() -> None:
    data = body_json(call("/v1/embeddings", {"model": "e", "input": ["a", "b"], "dimensions": 4}))
    assert data["object"] == "list" and data["model"] == "e"
    assert [d["index"] for d in data["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 4 for d in data["data"])
    assert data["usage"]["prompt_tokens"] == data["usage"]["total_tokens"] == 2
    b64 = body_json(
        call("/v1/embeddings", {"model": "e", "input": "a", "encoding_format": "base64"})
    )
    assert len(base64.b64decode(b64["data"][0]["embedding"])) == 8 * 4
    again = body_json(call("/v1/embeddings", {"model": "e", "input": ["a"], "dimensions": 4}))
    assert again["data"][0]["embedding"] == data["data"][0]["embedding"]  # deterministic
    assert call("/v1/embeddings", {"model": "e", "input": []}).status == 400


def test_models_list_and_retrieve() -> None:
    data = body_json(call("/v1/models", method="GET"))
    assert data["object"] == "list" and len(data["data"]) >= 3
    assert all(m["object"] == "model" for m in data["data"])
    one = body_json(call("/v1/models/gpt-x", method="GET"))
    assert one["id"] == "gpt-x"


def test_unknown_path_and_wrong_method() -> None:
    assert call("/v1/nope").status == 404
    assert call(CHAT, method="HEAD").status == 404
    resp = call(CHAT, method="GET")
    assert resp.status == 405 and "error" in body_json(resp)

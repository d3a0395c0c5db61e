"""The OpenAI-compatible surface through a real gateway process, judged by the official SDK in
strict mode (a missing field fails the test)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
MESSAGES: Any = [{"role": "user", "content": "Say hello"}]
FIRST = {"x-mock-tools": "first"}  # call the offered tool although the prompt does not name it


@pytest.fixture
def client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-client",
        base_url=gateway.url + "/v1",
        _strict_response_validation=True,
        max_retries=0,
    )


def test_chat_non_stream(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=MESSAGES, extra_headers={"x-mock-tokens": "5"}
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    assert raw.headers["x-turnout-deployment"] == "mock/mock-upstream"
    assert raw.headers["x-mock-request-model"] == "mock-upstream"  # the model was renamed
    assert raw.headers["x-request-id"]


def test_unknown_fields_pass_through_both_ways(gateway: Proc) -> None:
    body = {"model": "passthrough-a", "messages": MESSAGES, "vendor_knob": {"x": 1}}
    r = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["x-mock-request-model"] == "passthrough-a"  # '*' deployment keeps the name
    assert r.json()["object"] == "chat.completion"


def test_chat_stream(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True, extra_headers={"x-mock-tokens": "20"}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 20
    assert text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-mock-tokens": "7"},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


def test_tool_call_non_stream(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-test",
        messages=MESSAGES,
        tools=[WEATHER_TOOL],
        extra_headers=FIRST,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert isinstance(args["city"], str) and isinstance(args["days"], int)


def test_tool_call_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-test",
        messages=MESSAGES,
        tools=[WEATHER_TOOL],
        stream=True,
        extra_headers=FIRST,
    )
    name, args, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                assert tc.index == 0
                name += tc.function.name or "" if tc.function else ""
                args += tc.function.arguments or "" if tc.function else ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert set(json.loads(args)) == {"city", "days"}
    assert finish == "tool_calls"


def test_embeddings(client: openai.OpenAI) -> None:
    # Strict validation checks the body before the SDK decodes base64, so ask for floats.
    result = client.embeddings.create(model="text-embed", input=["a", "b"], encoding_format="float")
    assert len(result.data) == 2
    assert all(len(d.embedding) > 0 for d in result.data)


def test_models_list(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"gpt-test", "text-embed", "failover"} <= ids
    assert "passthrough-*" not in ids


def test_request_id_is_echoed(gateway: Proc) -> None:
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES},
        headers={"x-request-id": "req-from-client-42"},
    )
    assert r.headers["x-request-id"] == "req-from-client-42"
    r = httpx.post(gateway.url + "/v1/chat/completions", content=b"{")
    assert len(r.headers["x-request-id"]) >= 16


def test_failover_to_next_priority(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="failover", messages=MESSAGES)
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-turnout-attempts"] == "2"
    assert raw.headers["x-turnout-deployment"] == "mock/mock-upstream"

"""The OpenAI Responses API as a fourth client protocol, judged by the OpenAI SDK.

Every scenario of the matrix (test_matrix.py) runs with ``responses.create`` /
``responses.stream`` against every provider type: an OpenAI provider (the call passes through
as bytes), an OpenAI-compatible server (translated to Chat Completions), Anthropic and Gemini
(translated through the IR). Added here: structured output read by ``responses.parse`` and a
two-turn stateless agent loop with reasoning, whose state must come back in the reasoning
items' ``encrypted_content`` for the upstream to accept the second turn.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.conformance.clients import (
    CLIENTS,
    QUESTION,
    TOOL_ARGS,
    TOOL_NAME,
    Client,
    ResponsesClient,
)
from tests.conformance.conftest import (
    NATIVE,
    PROVIDER_TYPES,
    RESPONSES_ONLY,
    UPSTREAM_MODEL,
    model_for,
)
from tests.conformance.test_matrix import SCENARIOS
from tests.support.procs import Proc

PROVIDERS = (NATIVE, *PROVIDER_TYPES)
# Reasoning state the upstream receives back on turn 2: OpenAI its own encrypted content,
# Anthropic its signed thinking, Gemini its thought signature; an OpenAI-compatible server
# keeps none.
SIGNS = {NATIVE: 1, "openai": 0, "anthropic": 1, "gemini": 1}


class Weather(BaseModel):
    city: str
    temp_c: int


@pytest.fixture(scope="module")
def client(gw: Proc) -> ResponsesClient:
    return ResponsesClient(gw.url)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_cell(client: ResponsesClient, provider: str, scenario: str) -> None:
    SCENARIOS[scenario](client, provider)


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(client: ResponsesClient, provider: str, stream: bool) -> None:
    answer = client.run(
        model_for(provider),
        [{"role": "user", "content": "The weather in Paris, as JSON."}],
        stream=stream,
        tools=False,
        thinking=False,
        headers={},
        text_format=Weather,
    )
    parsed = answer.turn.output_parsed
    assert isinstance(parsed, Weather), answer.text
    assert answer.finish == "completed"
    assert answer.headers["x-mock-request-model"] == UPSTREAM_MODEL[provider]


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_turn_tool_loop_with_reasoning(
    client: ResponsesClient, provider: str, stream: bool
) -> None:
    model = model_for(provider)
    first = client.ask(model, stream=stream, tools=True, thinking=True)
    assert [(c.name, c.args) for c in first.calls] == [(TOOL_NAME, TOOL_ARGS)]
    assert first.finish == "function_call"
    assert first.headers["x-mock-signatures-received"] == "0"
    if provider != "openai":  # a Chat Completions server shows no reasoning to translate
        assert first.thinking
    if provider in (NATIVE, "gemini"):  # Anthropic counts thinking as output, not apart
        assert first.turn.usage.output_tokens_details.reasoning_tokens > 0
    second = client.answer_tool(model, first, stream=stream, thinking=True)
    assert second.headers["x-mock-signatures-received"] == str(SIGNS[provider])
    assert second.text.startswith("Tool result:"), second.text
    assert second.finish == "completed"


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != NATIVE])
def test_built_in_tools_are_refused_where_openai_does_not_run_them(
    client: ResponsesClient, provider: str
) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as info:
        client.sdk.responses.create(
            model=model_for(provider),
            input="What happened today?",
            tools=[{"type": "web_search"}],
        )
    assert "web_search" in str(info.value)


@pytest.fixture(scope="module")
def others(gw: Proc) -> dict[str, Client]:
    return {name: cls(gw.url) for name, cls in CLIENTS.items()}


@pytest.mark.parametrize("scenario", ["text", "stream", "tools", "tools_stream", "image"])
@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_every_client_reaches_a_responses_only_model(
    others: dict[str, Client], client_name: str, scenario: str
) -> None:
    """``api: responses`` on a deployment: Chat Completions, Anthropic and Gemini clients are
    translated to the Responses API (a model OpenAI serves nowhere else)."""
    client = others[client_name]
    model = RESPONSES_ONLY
    if scenario in ("tools", "tools_stream"):
        first = client.ask(model, stream=scenario == "tools_stream", tools=True)
        assert first.headers["x-mock-endpoint"] == "responses"
        assert [(c.name, c.args) for c in first.calls] == [(TOOL_NAME, TOOL_ARGS)]
        assert first.finish == client.tool_stop
        second = client.answer_tool(model, first, stream=scenario == "tools_stream", thinking=False)
        assert second.text.startswith("Tool result:") and "21" in second.text, second.text
        return
    answer = client.ask(model, stream=scenario == "stream", image=scenario == "image")
    assert answer.headers["x-mock-endpoint"] == "responses"
    assert answer.headers["x-mock-request-model"] == "up-responses"
    assert answer.finish == client.stop
    if scenario == "image":
        assert answer.headers["x-mock-images-received"] == "1"
    else:
        assert answer.text.startswith("Lorem ipsum") and answer.output_tokens == 5


def test_a_responses_client_passes_through_to_a_responses_only_model(
    client: ResponsesClient,
) -> None:
    answer = client.ask(RESPONSES_ONLY, stream=True)
    assert answer.headers["x-mock-endpoint"] == "responses"
    assert answer.text.startswith("Lorem ipsum")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_input_tokens_are_counted_by_every_provider_type(
    client: ResponsesClient, provider: str
) -> None:
    """``responses.input_tokens.count``: OpenAI's own endpoint (passthrough), Anthropic's and
    Gemini's count endpoints (translated), an estimate where there is none (flagged)."""
    raw = client.sdk.responses.input_tokens.with_raw_response.count(
        model=model_for(provider), input=QUESTION, instructions="Answer briefly."
    )
    counted = raw.parse()
    assert counted.input_tokens > 0
    assert (raw.headers.get("x-turnout-token-count") == "estimated") is (provider == "openai")


CUT = {"x-mock-fault": "truncate", "x-mock-tokens": "6"}  # the mock drops the last event


def test_a_relayed_stream_without_its_end_event_is_an_error(gw: Proc) -> None:
    """An OpenAI stream that stops cleanly before ``response.completed`` must not read as a
    finished (shorter) answer: the SDK raises on the error event the gateway appends."""
    sdk = openai.OpenAI(api_key="sk-client", base_url=gw.url + "/v1", max_retries=0)
    with pytest.raises(openai.APIError) as info:
        for _ in sdk.responses.create(
            model=model_for(NATIVE), input=QUESTION, stream=True, extra_headers=CUT
        ):
            pass
    assert "ended before it was complete" in info.value.message
    with (
        pytest.raises(openai.APIError),
        sdk.responses.stream(model=model_for(NATIVE), input=QUESTION, extra_headers=CUT) as stream,
    ):
        stream.get_final_response()
    # Untouched, the same stream is whole.
    done = sdk.responses.create(
        model=model_for(NATIVE), input=QUESTION, extra_headers={"x-mock-tokens": "6"}
    )
    assert done.status == "completed"


def test_the_error_event_takes_the_next_sequence_number(gw: Proc) -> None:
    body = {"model": model_for(NATIVE), "input": QUESTION, "stream": True}
    seen = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),  # and the connection is aborted
        httpx.stream("POST", gw.url + "/v1/responses", json=body, headers=CUT) as r,
    ):
        for chunk in r.iter_raw():
            seen += chunk
    events = [json.loads(line[5:]) for line in seen.split(b"\n") if line.startswith(b"data:")]
    *relayed, last = events
    assert [e["sequence_number"] for e in relayed] == list(range(len(relayed)))
    assert relayed[-1]["type"] != "response.completed"
    assert last["type"] == "error" and last["sequence_number"] == len(relayed)

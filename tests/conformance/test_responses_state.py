"""Responses conversation state through the gateway, judged by the OpenAI SDK.

A follow-up names the earlier response by ``previous_response_id`` instead of sending the
history. For translated upstreams (Anthropic, Gemini, an OpenAI-compatible server) the gateway
kept turn 1's items and puts them in front of turn 2's input: the upstream proves it got them
by accepting the reasoning state turn 1 produced (``x-mock-signatures-received``) and
answering the tool result with the tool call before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conformance.clients import (
    QUESTION,
    TOOL_HEADERS,
    TOOL_NAME,
    TOOL_RESULT,
    TOOL_SCHEMA,
    input_text,
)
from tests.conformance.conftest import model_for
from tests.support.procs import Proc, start_gateway

TRANSLATED = {"anthropic": 1, "gemini": 1, "openai": 0}  # reasoning state the upstream gets back
TOOLS = [{"type": "function", "name": TOOL_NAME, "parameters": TOOL_SCHEMA, "strict": False}]
REASONING = {"effort": "medium", "summary": "auto"}


@pytest.fixture(scope="module")
def sdk(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-client-openai",
        base_url=gw.url + "/v1",
        max_retries=0,
        _strict_response_validation=True,
    )


def create(sdk: openai.OpenAI, stream: bool, **kwargs: Any) -> tuple[Any, dict[str, str]]:
    if stream:
        with sdk.responses.stream(**kwargs) as s:
            for _ in s:
                pass
            return s.get_final_response(), dict(s._response.headers)
    raw = sdk.responses.with_raw_response.create(**kwargs)
    return raw.parse(), dict(raw.headers)


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("provider", list(TRANSLATED))
def test_previous_response_id_continues_a_translated_conversation(
    sdk: openai.OpenAI, provider: str, stream: bool
) -> None:
    model = model_for(provider)
    first, _ = create(
        sdk, stream, model=model, input=QUESTION, tools=TOOLS, reasoning=REASONING,
        extra_headers={**TOOL_HEADERS, "x-mock-tokens": "5"},
    )  # fmt: skip
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == [TOOL_NAME]
    result = {"type": "function_call_output", "call_id": calls[0].call_id}
    second, headers = create(
        sdk, stream, model=model, previous_response_id=first.id, tools=TOOLS,
        reasoning=REASONING, input=[{**result, "output": json.dumps(TOOL_RESULT)}],
        extra_headers={"x-mock-tokens": "5"},
    )  # fmt: skip
    assert second.output_text.startswith("Tool result:"), second.output_text
    assert second.previous_response_id == first.id  # echoed as OpenAI does
    assert first.store is True and second.store is True
    assert headers["x-mock-signatures-received"] == str(TRANSLATED[provider])
    assert second.status == "completed"
    # A third turn chains on the second: the whole conversation comes along.
    third, headers = create(
        sdk, stream, model=model, previous_response_id=second.id, input="Thanks!",
        reasoning=REASONING, tools=TOOLS, extra_headers={"x-mock-tokens": "5"},
    )  # fmt: skip
    assert third.status == "completed"  # both earlier turns' reasoning state reached it
    assert third.previous_response_id == second.id
    assert sdk.responses.retrieve(third.id).previous_response_id == second.id
    assert headers["x-mock-signatures-received"] == str(2 * TRANSLATED[provider])


def test_every_streamed_response_object_echoes_the_previous_response_id(
    sdk: openai.OpenAI,
) -> None:
    first = sdk.responses.create(model=model_for("anthropic"), input=QUESTION)
    with sdk.responses.stream(
        model=model_for("anthropic"), previous_response_id=first.id, input="And?"
    ) as s:
        seen = [e.response.previous_response_id for e in s if hasattr(e, "response")]
    assert len(seen) >= 3 and set(seen) == {first.id}, seen  # created, in_progress, completed
    assert first.previous_response_id is None


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("provider", list(TRANSLATED))
def test_background_is_refused_where_the_upstream_cannot_run_it(
    sdk: openai.OpenAI, provider: str, stream: bool
) -> None:
    """Running it in the foreground instead would break the client's polling contract."""
    with pytest.raises(openai.BadRequestError) as info:
        create(sdk, stream, model=model_for(provider), input=QUESTION, background=True)
    assert info.value.param == "background", info.value
    assert "background" in info.value.message and "OpenAI" in info.value.message


@pytest.mark.parametrize("provider", list(TRANSLATED))
def test_an_unknown_previous_response_id_is_openais_400(sdk: openai.OpenAI, provider: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(
            model=model_for(provider), previous_response_id="resp_nosuchthing", input="Hi"
        )
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"
    assert "resp_nosuchthing" in info.value.message


def test_store_false_keeps_nothing(sdk: openai.OpenAI) -> None:
    first = sdk.responses.create(model=model_for("anthropic"), input=QUESTION, store=False)
    # The SDK's Response no longer declares ``store``; the field the gateway sent is still read.
    assert first.to_dict()["store"] is False
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(
            model=model_for("anthropic"), previous_response_id=first.id, input="And?"
        )
    assert info.value.code == "previous_response_not_found"


@pytest.fixture(scope="module")
def two(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """A model on two OpenAI deployments taken in turn, each with two keys."""

    def provider(name: str) -> dict[str, Any]:
        keys = [f"sk-upstream-{name}-0001", f"sk-upstream-{name}-0002"]
        return {"type": "openai", "base_url": f"{mock.url}/v1", "api_keys": keys}

    config = {
        "providers": {"east": provider("east"), "west": provider("west")},
        "models": {
            "m-two": {
                "strategy": "round-robin",
                "deployments": [
                    {"provider": "east", "model": "up-east"},
                    {"provider": "west", "model": "up-west"},
                ],
            }
        },
        "logging": {"requests": False},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("two"), ready_within=60)
    yield openai.OpenAI(api_key="sk-client", base_url=proc.url + "/v1", max_retries=0)
    proc.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
def test_a_follow_up_reaches_the_openai_deployment_that_holds_its_state(
    two: openai.OpenAI, stream: bool
) -> None:
    """Round-robin alone would send every second call to the other deployment (whose
    account does not know the response): a follow-up goes where its response was made."""
    for _ in range(3):
        first, headers = create(two, stream, model="m-two", input=QUESTION)
        where = headers["x-mock-request-model"]
        second, headers = create(
            two, stream, model="m-two", previous_response_id=first.id, input="And tomorrow?"
        )
        assert headers["x-mock-request-model"] == where
        _, headers = create(
            two, stream, model="m-two", previous_response_id=second.id, input="Thanks"
        )
        assert headers["x-mock-request-model"] == where
    seen = set()
    for _ in range(2):  # without an id, the strategy's turns again
        _, headers = create(two, stream, model="m-two", input=QUESTION)
        seen.add(headers["x-mock-request-model"])
    assert seen == {"up-east", "up-west"}


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
def test_a_kept_response_can_be_retrieved_and_deleted(sdk: openai.OpenAI, stream: bool) -> None:
    first, _ = create(sdk, stream, model=model_for("gemini"), input=QUESTION)
    got = sdk.responses.retrieve(first.id)
    assert got.id == first.id and got.output_text == first.output_text
    sdk.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(first.id)
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(model=model_for("gemini"), previous_response_id=first.id, input="And?")
    assert info.value.code == "previous_response_not_found"


def test_an_unknown_response_is_a_404(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.responses.retrieve("resp_nosuchthing")
    assert "resp_nosuchthing" in info.value.message


MASTER = "sy-master-convstate-0123456789"


@pytest.fixture(scope="module")
def keyed(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """A gateway with gateway keys (a master key), an Anthropic model, its SQLite storage."""
    config = {
        "providers": {"an": {"type": "anthropic", "base_url": mock.url, "api_keys": ["sk-up"]}},
        "models": {"claude-test": {"deployments": [{"provider": "an", "model": "up"}]}},
        "logging": {"requests": False},
    }
    tmp = tmp_path_factory.mktemp("keyed")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=60)
    yield proc
    proc.stop()


def test_another_key_cannot_continue_read_or_delete_a_conversation(keyed: Proc) -> None:
    def client() -> openai.OpenAI:
        resp = httpx.post(
            keyed.url + "/admin/keys", json={}, headers={"authorization": f"Bearer {MASTER}"}
        )
        assert resp.status_code == 201, resp.text
        return openai.OpenAI(api_key=resp.json()["key"], base_url=keyed.url + "/v1", max_retries=0)

    alice, mallory = client(), client()
    first = alice.responses.create(model="claude-test", input=QUESTION)
    with pytest.raises(openai.BadRequestError) as info:
        mallory.responses.create(model="claude-test", previous_response_id=first.id, input="?")
    assert info.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        mallory.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        mallory.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        mallory.responses.input_items.list(first.id)
    with pytest.raises(openai.NotFoundError):
        mallory.responses.cancel(first.id)
    assert [input_text(i) for i in alice.responses.input_items.list(first.id)] == [QUESTION]
    assert alice.responses.retrieve(first.id).id == first.id  # still there for its owner
    second = alice.responses.create(model="claude-test", previous_response_id=first.id, input="?")
    assert second.status == "completed"

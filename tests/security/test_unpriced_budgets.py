"""A key with a budget must not spend on a model the gateway cannot price.

The gateway charges a budget by the price table (turnout/pricing): a call to a model without a
price cost nothing, so a budgeted key could spend without limit on one, and on a glob route the
client chooses the name. Now such a call is refused (403 ``model_not_priced``, in the client's
protocol) before anything reaches the upstream, unless ``pricing.unpriced: allow``. Played with
the official SDKs against the mock provider behind a real gateway; ``/_mock/stats`` counts what
reached the upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors

from tests.integration.test_auth import ADMIN, MASTER, gm, new_key
from tests.support.procs import Proc, mock_provider, start_gateway, start_mock
from tests.support.wait import until

CHAT: Any = [{"role": "user", "content": "hi"}]
BUDGET = {"budget": 100, "budget_period": "day"}


@pytest.fixture(scope="module")
def mock() -> Iterator[Proc]:
    proc = start_mock()
    yield proc
    proc.stop()


def _config(mock: Proc, **pricing: Any) -> dict[str, Any]:
    native = {"base_url": mock.url, "api_keys": ["sk-up-000000001"]}
    return {
        "storage": {"enabled": False},
        "routing": {"max_attempts": 1},
        "providers": {
            "oa": mock_provider(mock),
            "an": {"type": "anthropic", **native},
            "gm": {"type": "gemini", **native},
        },
        "models": {
            # Glob routes: the client names the upstream model.
            "gpt-*": {"deployments": [{"provider": "oa"}]},
            "claude-*": {"deployments": [{"provider": "an"}]},
            "gemini-*": {"deployments": [{"provider": "gm"}]},
            "embed": {"deployments": [{"provider": "oa", "model": "embedder-v0"}]},
            # One deployment priced, one not: a call served by the second would be free.
            "mixed": {
                "deployments": [
                    {"provider": "oa", "model": "gpt-4o"},
                    {"provider": "an", "model": "in-house", "priority": 1},
                ]
            },
            # Priced, but falls back to a model without a price.
            "falls": {
                "deployments": [{"provider": "oa", "model": "gpt-4o"}],
                "fallbacks": ["side"],
            },
            "side": {"deployments": [{"provider": "oa", "model": "in-house"}]},
        },
        "pricing": pricing,
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        _config(mock),
        Path(tmp_path_factory.mktemp("unpriced")),
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def _sent(mock: Proc) -> int:
    return int(httpx.get(mock.url + "/_mock/stats").json()["requests"])


def _spend(gw: Proc, key_id: str) -> dict[str, Any]:
    spend: dict[str, Any] = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()[
        "spend"
    ]
    return spend


def _settled(gw: Proc, key_id: str) -> float:
    until(lambda: _spend(gw, key_id)["reserved"] == 0)
    return float(_spend(gw, key_id)["spent"])


def _oa(gw: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def _an(gw: Proc, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def _refused_openai(call: Callable[[], Any]) -> openai.PermissionDeniedError:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        call()
    err = caught.value
    assert err.status_code == 403 and err.code == "model_not_priced" and err.param == "model"
    assert err.response.headers["x-should-retry"] == "false"
    assert "has no price" in err.message
    return err


def _stream_openai(client: openai.OpenAI, model: str) -> None:
    for _ in client.chat.completions.create(model=model, messages=CHAT, stream=True):
        pass


def _refused_anthropic(call: Callable[[], Any]) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        call()
    assert caught.value.status_code == 403
    body: Any = caught.value.body
    assert body["error"]["type"] == "permission_error"
    assert "has no price" in body["error"]["message"]


def test_unpriced_models_are_refused_to_a_budgeted_key_before_anything_is_sent(
    gw: Proc, mock: Proc
) -> None:
    """Before: every call below reached the upstream and cost the $100 budget nothing."""
    key, _ = new_key(gw, **BUDGET)
    client = _oa(gw, key)
    before = _sent(mock)
    invented = "gpt-4o-anything"  # a name the client made up on the glob route
    _refused_openai(lambda: client.chat.completions.create(model=invented, messages=CHAT))
    _refused_openai(lambda: _stream_openai(client, invented))
    _refused_openai(lambda: client.chat.completions.create(model="gpt-4.5-preview", messages=CHAT))
    _refused_openai(lambda: client.embeddings.create(model="embed", input="hi"))
    _refused_openai(lambda: client.responses.create(model=invented, input="hi"))
    _refused_openai(lambda: list(client.responses.create(model=invented, input="hi", stream=True)))
    # A background response is refused too (its usage is never seen: unmetered_request).
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=invented, input="hi", background=True)
    # Translated routes: an OpenAI client on an Anthropic and a Gemini upstream.
    _refused_openai(lambda: client.chat.completions.create(model="claude-own", messages=CHAT))
    _refused_openai(lambda: _stream_openai(client, "gemini-own"))
    _refused_openai(lambda: client.responses.create(model="claude-own", input="hi"))
    # Some deployment that may serve the model has no price: its own, or a fallback's.
    _refused_openai(lambda: client.chat.completions.create(model="mixed", messages=CHAT))
    _refused_openai(lambda: client.chat.completions.create(model="falls", messages=CHAT))
    assert _sent(mock) == before


def test_anthropic_and_gemini_clients_are_refused_in_their_own_shapes(gw: Proc, mock: Proc) -> None:
    key, _ = new_key(gw, **BUDGET)
    client = _an(gw, key)
    before = _sent(mock)
    ask: Any = {"max_tokens": 8, "messages": CHAT}
    _refused_anthropic(lambda: client.messages.create(model="claude-own", **ask))

    def stream() -> None:
        with client.messages.stream(model="claude-own", **ask) as events:
            for _ in events:
                pass

    _refused_anthropic(stream)
    _refused_anthropic(lambda: client.messages.create(model="gpt-4o-anything", **ask))
    google = gm(gw, key)
    for call in (
        lambda: google.models.generate_content(model="gemini-own", contents="hi"),
        lambda: list(google.models.generate_content_stream(model="gemini-own", contents="hi")),
    ):
        with pytest.raises(genai_errors.ClientError) as caught:
            call()
        assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"
    assert _sent(mock) == before
    # Counting tokens costs nothing: not refused.
    counted = client.messages.count_tokens(model="claude-own", messages=CHAT)
    assert counted.input_tokens > 0


def test_a_team_budget_refuses_too_and_keys_without_a_budget_are_unaffected(
    gw: Proc, mock: Proc
) -> None:
    team = {"name": "priced-only", "budget": 50}
    assert httpx.post(f"{gw.url}/admin/teams", json=team, headers=ADMIN).status_code == 201
    member, _ = new_key(gw, team="priced-only")
    _refused_openai(
        lambda: _oa(gw, member).chat.completions.create(model="gpt-4o-anything", messages=CHAT)
    )
    for limits in ({}, {"rpm": 100, "tpm": 100_000}):
        key, _ = new_key(gw, **limits)
        client = _oa(gw, key)
        for model in ("gpt-4o-anything", "mixed", "falls", "claude-own"):
            done = client.chat.completions.create(model=model, messages=CHAT)
            assert done.choices[0].message.content is not None
        assert _an(gw, key).messages.create(model="claude-own", max_tokens=8, messages=CHAT)


def test_priced_names_are_served_and_charged_at_their_own_price(gw: Proc) -> None:
    """``gpt-5-pro`` is charged its own $15/$120, not ``gpt-5``'s $1.25/$10; a dated snapshot
    its model's price."""
    key, key_id = new_key(gw, **BUDGET)
    done = _oa(gw, key).chat.completions.create(
        model="gpt-5-pro", messages=CHAT, extra_headers={"x-mock-tokens": "1000"}
    )
    assert done.usage is not None
    expected = (done.usage.prompt_tokens * 15 + done.usage.completion_tokens * 120) / 1e6
    assert _settled(gw, key_id) == pytest.approx(expected)
    answer = _an(gw, key).messages.create(
        model="claude-haiku-4-5-20251001",
        max_tokens=500,
        messages=CHAT,
        extra_headers={"x-mock-tokens": "400"},
    )
    cost = (answer.usage.input_tokens * 1 + answer.usage.output_tokens * 5) / 1e6
    assert _settled(gw, key_id) == pytest.approx(expected + cost)


def test_the_operator_may_allow_unpriced_models(mock: Proc, tmp_path: Path) -> None:
    """``pricing.unpriced: allow``: served, and they cost the budget nothing."""
    proc = start_gateway(
        _config(mock, unpriced="allow"), tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}
    )
    try:
        key, key_id = new_key(proc, **BUDGET)
        client = _oa(proc, key)
        for model in ("gpt-4o-anything", "claude-own"):
            done = client.chat.completions.create(model=model, messages=CHAT)
            assert done.usage is not None and done.usage.completion_tokens > 0
        assert _settled(proc, key_id) == 0
    finally:
        proc.stop()

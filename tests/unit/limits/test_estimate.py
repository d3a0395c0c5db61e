"""What a call reserves before it is sent: the expected output for token windows, the most it
may generate for budgets (turnout/budgets/estimate.py)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from turnout.budgets.estimate import Estimator, Rates
from turnout.config.compile import compile_config
from turnout.config.schema import TurnoutConfig
from turnout.errors import Unpriced
from turnout.types import Call


def _estimator() -> Estimator:
    cfg = TurnoutConfig.model_validate(
        {
            "providers": {"m": {"type": "mock"}},
            "models": {"*": {"deployments": [{"provider": "m"}]}},
        }
    )
    return Estimator(compile_config(cfg), 256, 4096)


def _call(protocol: str, operation: str, data: dict[str, Any]) -> Call:
    body = orjson.dumps(data)
    return Call(
        protocol=protocol,
        operation=operation,
        model="m",
        body=body,
        data=data,
        stream=False,
        headers={},
        request_id="r",
        started=time.perf_counter(),
    )


CHAT: Any = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fields", "out", "most"),
    [
        ({}, 256, 4096),  # no maximum: the budget's estimate
        ({"max_tokens": 100}, 100, 100),
        ({"max_tokens": 20_000}, 256, 20_000),  # windows capped, budgets not
        ({"max_completion_tokens": 20_000, "n": 4}, 256, 80_000),  # every choice may use it all
        ({"max_tokens": 10**12}, 256, 1_000_000),  # no model writes more
        ({"max_tokens": 100, "n": 10**6}, 100, 12_800),  # n is at most 128
        ({"max_tokens": True, "n": True}, 256, 4096),  # booleans are no numbers
        ({"max_tokens": "9000", "n": "3"}, 256, 4096),
    ],
)
def test_openai_reservations(fields: dict[str, Any], out: int, most: int) -> None:
    inp, expected, reserved = _estimator().estimate(
        _call("openai", "chat", {"model": "m", "messages": CHAT, **fields})
    )
    assert (expected, reserved) == (out, most) and inp > 0


def test_gemini_candidates_multiply_the_reservation() -> None:
    data = {"contents": [], "generationConfig": {"maxOutputTokens": 1000, "candidateCount": 3}}
    assert _estimator().estimate(_call("gemini", "generateContent", data))[1:] == (256, 3000)


def test_responses_and_anthropic_reserve_their_maximum() -> None:
    responses = {"model": "m", "input": "hi", "max_output_tokens": 5000, "background": False}
    assert _estimator().estimate(_call("responses", "responses", responses))[1:] == (256, 5000)
    messages = {"model": "m", "max_tokens": 8000, "messages": CHAT}
    assert _estimator().estimate(_call("anthropic", "messages", messages))[1:] == (256, 8000)


def _priced(unpriced: str = "refuse") -> Estimator:
    """``gpt-*`` forwards the client's name; ``mixed`` has an unpriced deployment; ``falls``
    falls back to an unpriced model; ``cheap`` is priced by its deployment."""
    cfg = TurnoutConfig.model_validate(
        {
            "providers": {"o": {"type": "mock"}, "a": {"type": "mock"}},
            "models": {
                "gpt-*": {"deployments": [{"provider": "o"}]},
                "cheap": {"deployments": [{"provider": "a", "model": "x", "price": {"input": 1}}]},
                "mixed": {
                    "deployments": [
                        {"provider": "o", "model": "gpt-4o"},
                        {"provider": "a", "model": "in-house"},
                    ]
                },
                "falls": {
                    "deployments": [{"provider": "o", "model": "gpt-4o-mini"}],
                    "fallbacks": ["dear", "side"],
                },
                "dear": {"deployments": [{"provider": "o", "model": "gpt-4o"}]},
                "side": {"deployments": [{"provider": "a", "model": "in-house"}]},
            },
            "pricing": {"unpriced": unpriced},
        }
    )
    return Estimator(compile_config(cfg), 256, 4096)


def _asking(model: str, protocol: str = "openai", operation: str = "chat") -> Call:
    call = _call(protocol, operation, {"model": model, "messages": CHAT})
    call.model = model
    return call


@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("gpt-4o", (2.5, 10.0, True)),
        ("gpt-4o-2024-08-06", (2.5, 10.0, True)),
        ("gpt-5-pro", (15.0, 120.0, True)),  # its own price, not gpt-5's
        ("cheap", (1.0, 0.0, True)),
        ("gpt-4o-anything", (0.0, 0.0, False)),  # a name the client chose: no price
        ("mixed", (2.5, 10.0, False)),  # one deployment has none
        ("falls", (2.5, 10.0, False)),  # a fallback's deployments count (gpt-4o's price too)
        ("nowhere", (0.0, 0.0, True)),  # no route: the router answers 404
    ],
)
def test_rates_are_the_highest_and_say_whether_every_deployment_is_priced(
    model: str, rates: tuple[float, float, bool]
) -> None:
    assert _priced().rates(model) == rates


def test_a_budget_refuses_what_it_cannot_price_unless_allowed() -> None:
    estimator = _priced()
    reserved, floor = estimator.reserve(_asking("gpt-4o"), 1000, 100, 2000)
    assert (reserved, floor) == pytest.approx(((2500 + 20_000) / 1e6, (2500 + 1000) / 1e6))
    for model in ("gpt-4o-anything", "mixed", "falls"):
        with pytest.raises(Unpriced) as caught:
            estimator.reserve(_asking(model), 1000, 100, 2000)
        err = caught.value
        assert (err.status, err.code, err.param) == (403, "model_not_priced", "model")
    # Counting tokens costs nothing: nothing to refuse.
    count = _asking("gpt-4o-anything", "anthropic", "count_tokens")
    assert estimator.reserve(count, 0, 0, 0) == (0.0, 0.0)
    # Allowed: the priced deployments' prices, 0 when none has one.
    allowed = _priced("allow")
    assert allowed.reserve(_asking("gpt-4o-anything"), 1000, 100, 2000) == (0.0, 0.0)
    assert allowed.reserve(_asking("mixed"), 1000, 0, 0)[0] == pytest.approx(2500 / 1e6)


def test_rates_are_memoised_and_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    estimator = _priced()
    looked: list[str] = []
    original = estimator._rates

    def counted(model: str) -> Rates:
        looked.append(model)
        return original(model)

    monkeypatch.setattr(estimator, "_rates", counted)
    for _ in range(3):
        estimator.reserve(_asking("gpt-4o"), 10, 10, 10)
    assert looked == ["gpt-4o"]
    monkeypatch.setattr("turnout.budgets.estimate._MEMO_MAX", 5)
    for i in range(20):
        estimator.rates(f"gpt-{i}")
    assert len(estimator._memo) <= 5


def test_openais_pass_through_operations_reserve_what_they_may_generate() -> None:
    estimator = _estimator()
    moderation = _call("openai", "moderations", {"input": "hi there"})
    assert estimator.estimate(moderation) == (len(moderation.body) // 4, 0, 0)  # no output
    completion = _call("openai", "completions", {"prompt": "hi", "max_tokens": 100, "n": 2})
    assert estimator.estimate(completion)[1:] == (100, 200)  # as chat: each choice may use it
    best = _call("openai", "completions", {"prompt": "hi", "max_tokens": 100, "best_of": 5})
    assert estimator.estimate(best)[1:] == (100, 500)  # best_of answers generated and billed
    images = _call("openai", "images", {"prompt": "a cat", "n": 3})
    assert estimator.estimate(images)[1:] == (256, 3 * 4096)  # gpt-image bills output tokens

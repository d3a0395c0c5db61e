"""What a call reserves before it is sent: the expected output for token windows, the most it
may generate for budgets (turnout/budgets/estimate.py)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from turnout.budgets.estimate import Estimator
from turnout.config.compile import compile_config
from turnout.config.schema import TurnoutConfig
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

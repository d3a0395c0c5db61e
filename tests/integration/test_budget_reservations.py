"""A budget must hold under concurrent calls: each call reserves the most it may cost.

Calls are admitted while spent plus reserved stays under the budget, so a reservation below
what a call can really cost lets every call in flight overspend by the difference. The model
``priced`` costs $0.10 per output token (tests/integration/test_limits.py); the mock writes
``x-mock-tokens`` tokens, cut at the request's ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.integration.test_auth import ADMIN, MASTER, new_key
from tests.integration.test_limits import burst, limits_config, ok
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        limits_config(mock, logging={"requests": True}),
        tmp_path_factory.mktemp("budget-reservations"),
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def _spend(gw: Proc, key_id: str) -> dict[str, Any]:
    shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
    spend: dict[str, Any] = shown["spend"]
    return spend


def _settled(gw: Proc, key_id: str) -> float:
    until(lambda: _spend(gw, key_id)["reserved"] == 0)
    return float(_spend(gw, key_id)["spent"])


def test_concurrent_calls_asking_for_long_answers_stay_within_one_call_of_the_budget(
    gw: Proc,
) -> None:
    """Before: the reservation was capped at ``limits.output_estimate`` (256 tokens: $25.60),
    so four 600-token calls ($60 each) of a $100 key ran at once and spent $240."""
    key, key_id = new_key(gw, budget=100, budget_period="day")
    results = burst(gw.url, key, 8, model="priced", max_tokens=600, tokens=600, delay_ms=500)
    assert ok(results) == 2  # $60 reserved each: a third would start at $120
    # Refused while the budget is only reserved: a rate limit the SDK may retry, not a spent
    # quota (insufficient_quota, x-should-retry: false, Retry-After the period's end).
    held = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(held) == 6 and all(r.code == "rate_limit_exceeded" for r in held)
    assert all(r.response.headers["x-should-retry"] == "true" for r in held)
    assert all(int(r.response.headers["retry-after"]) <= 1 for r in held)
    assert "reserved by calls in flight" in held[0].message
    assert _settled(gw, key_id) == pytest.approx(120)  # one call past the budget, at most
    spent = burst(gw.url, key, 1, model="priced", max_tokens=1, tokens=1)[0]
    assert isinstance(spent, openai.RateLimitError) and spent.code == "insufficient_quota"


def test_a_call_naming_no_maximum_reserves_the_budget_estimate(gw: Proc) -> None:
    """Without ``max_tokens`` a call reserves ``limits.budget_output_estimate`` (4,096 tokens,
    $409.60 here): alone in flight it is admitted, the next waits for it to settle."""
    key, key_id = new_key(gw, budget=100, budget_period="day")
    results = burst(gw.url, key, 6, model="priced", tokens=600, delay_ms=500)
    assert ok(results) == 1
    assert _settled(gw, key_id) == pytest.approx(60)


def test_a_call_left_without_usage_is_charged_its_estimate_not_its_reservation(
    gw: Proc,
) -> None:
    """The reservation is the worst case; a call the gateway cannot count (its client left
    before the first byte) is settled at the expected cost, as before: max_tokens capped at
    ``limits.output_estimate`` (256 tokens, $25.60)."""
    key, key_id = new_key(gw, budget=1000, budget_period="day")
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(
            model="priced",
            max_tokens=600,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-mock-tokens": "600", "x-mock-ttft-ms": "3000"},
        )
    assert _settled(gw, key_id) == pytest.approx(25.6)

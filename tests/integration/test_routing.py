"""Routing through a real gateway process in front of the mock provider, judged by the
official OpenAI SDK: failover order, spreads, latency, sticky pinning, 429 cooldowns.

One gateway serves every scenario; each scenario has its own models so they do not share
health. Deployments are told apart by ``x-turnout-deployment`` (provider/upstream model).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.request_log import request_line
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _config(mock: Proc) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    return {
        "routing": {"breaker": {"consecutive_failures": 3, "cooldown": 1}},
        "providers": {
            "mock": mock_provider(mock),
            # Forwards no client header: unaffected by a test's x-mock-* request headers.
            "steady": {**mock_provider(mock), "forward_headers": []},
            "failing": mock_provider(mock, headers={"x-mock-status": "500"}),
            "slow": mock_provider(mock, headers={"x-mock-ttft-ms": "150"}),
            "busy503": mock_provider(mock, headers={"x-mock-status": "503"}),
            "busy529": mock_provider(mock, headers={"x-mock-status": "529"}),
            "limited": mock_provider(
                mock, headers={"x-mock-status": "429", "x-mock-retry-after": "1"}
            ),
            "dead": {"type": "openai-compatible", "base_url": dead, "api_keys": ["sk-dead-01"]},
        },
        "models": {
            "tiers": {
                "max_attempts": 4,
                "deployments": [
                    {"provider": "failing", "model": "t0", "priority": 0},
                    {"provider": "dead", "model": "t0b", "priority": 0},
                    {"provider": "mock", "model": "t1", "priority": 1},
                    {"provider": "mock", "model": "t2", "priority": 2},
                ],
            },
            "weighted": {
                "strategy": "weighted",
                "deployments": [
                    {"provider": "mock", "model": "w3", "weight": 3},
                    {"provider": "mock", "model": "w1", "weight": 1, "priority": 7},
                ],
            },
            "rr": {
                "strategy": "round-robin",
                "deployments": [{"provider": "mock", "model": f"rr{i}"} for i in range(3)],
            },
            "fastest": {
                "strategy": "latency",
                "strategy_options": {"exploration": 0.05},
                "deployments": [
                    {"provider": "slow", "model": "lat-slow"},
                    {"provider": "mock", "model": "lat-fast"},
                ],
            },
            "cheap": {
                "strategy": "cost",
                "deployments": [
                    {"provider": "mock", "model": "c-dear", "price": {"input": 5, "output": 15}},
                    {"provider": "mock", "model": "c-cheap", "price": {"input": 0.1, "output": 1}},
                ],
            },
            "pinned": {
                "strategy": "sticky",
                "deployments": [
                    {"provider": "mock", "model": "s-first", "priority": 0},
                    {"provider": "steady", "model": "s-second", "priority": 1},
                ],
            },
            "rl": {"deployments": [{"provider": "limited", "model": "rl"}]},
            **{
                f"overloaded-{status}": {
                    "deployments": [
                        {"provider": f"busy{status}", "model": f"o{status}", "priority": 0},
                        {"provider": "mock", "model": f"o{status}-b", "priority": 1},
                    ]
                }
                for status in (503, 529)
            },
        },
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("routing")
    proc = start_gateway(_config(mock), tmp)
    yield proc
    proc.stop()


@pytest.fixture
def client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-client", base_url=gw.url + "/v1", max_retries=0)


def _ask(client: openai.OpenAI, model: str, **headers: str) -> tuple[str, int]:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=MESSAGES, max_tokens=2, extra_headers=headers or None
    )
    raw.parse()
    return raw.headers["x-turnout-deployment"], int(raw.headers["x-turnout-attempts"])


def test_failover_order_across_priority_tiers(client: openai.OpenAI) -> None:
    deployment, attempts = _ask(client, "tiers")
    # Both tier-0 deployments fail (500 / connection refused), then tier 1 answers; tier 2
    # is never reached while tier 1 is healthy.
    assert (deployment, attempts) == ("mock/t1", 3)
    # Tier 0 is now ejected (or about to be): tier 1 serves every request.
    seen = Counter(_ask(client, "tiers")[0] for _ in range(10))
    assert seen == {"mock/t1": 10}


@pytest.mark.parametrize("status", [503, 529])
def test_overloaded_gets_one_backoff_retry_then_fails_over(
    client: openai.OpenAI, mock: Proc, status: int
) -> None:
    before = httpx.get(mock.url + "/_mock/stats").json()["requests"]
    deployment, attempts = _ask(client, f"overloaded-{status}")
    assert (deployment, attempts) == (f"mock/o{status}-b", 3)
    assert httpx.get(mock.url + "/_mock/stats").json()["requests"] == before + 3


def test_weighted_spread_within_tolerance(client: openai.OpenAI) -> None:
    n = 400
    seen = Counter(_ask(client, "weighted")[0] for _ in range(n))
    share = seen["mock/w3"] / n
    assert 0.68 < share < 0.82, seen  # 0.75 expected; ±0.07 is > 3 standard deviations


def test_round_robin_spread_is_exact(client: openai.OpenAI) -> None:
    seen = Counter(_ask(client, "rr")[0] for _ in range(90))
    assert seen == {"mock/rr0": 30, "mock/rr1": 30, "mock/rr2": 30}


def test_latency_moves_to_the_faster_deployment(client: openai.OpenAI) -> None:
    for _ in range(4):  # both get measured
        _ask(client, "fastest")
    seen = Counter(_ask(client, "fastest")[0] for _ in range(60))
    assert seen["mock/lat-fast"] >= 50, seen


def test_cost_prefers_the_cheapest(client: openai.OpenAI) -> None:
    assert {_ask(client, "cheap")[0] for _ in range(10)} == {"mock/c-cheap"}


def test_sticky_pins_and_repins_when_the_pinned_deployment_fails(client: openai.OpenAI) -> None:
    # New sessions start on the priority-0 deployment ...
    assert _ask(client, "pinned", **{"x-session-id": "agent-a"})[0] == "mock/s-first"
    # ... until it fails for this session: the session moves and stays moved, although the
    # first deployment is healthy again and would win on priority.
    deployment, attempts = _ask(
        client, "pinned", **{"x-session-id": "agent-a", "x-mock-status": "500"}
    )
    assert (deployment, attempts) == ("steady/s-second", 2)
    for _ in range(5):
        assert _ask(client, "pinned", **{"x-session-id": "agent-a"})[0] == "steady/s-second"
    # Other sessions are unaffected.
    assert _ask(client, "pinned", **{"x-session-id": "agent-b"})[0] == "mock/s-first"


def test_sticky_by_prompt_cache_key(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="pinned",
        messages=MESSAGES,
        extra_body={"prompt_cache_key": "conv-42"},
        extra_headers={"x-mock-status": "500"},
    )
    assert raw.headers["x-turnout-deployment"] == "steady/s-second"
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(
            model="pinned", messages=MESSAGES, extra_body={"prompt_cache_key": "conv-42"}
        )
        assert raw.headers["x-turnout-deployment"] == "steady/s-second"


def test_429_cools_down_for_retry_after_then_is_retried(
    client: openai.OpenAI, gw: Proc, mock: Proc
) -> None:
    def requests() -> int:
        count: int = httpx.get(mock.url + "/_mock/stats").json()["requests"]
        return count

    before = requests()
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="rl", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "1"
    # Nothing else can serve: refused at once with Retry-After, no upstream call (the
    # gateway's request line says it made no attempt, so it waited for nothing).
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="rl", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-should-retry"] == "true"
    assert requests() == before + 1
    line = request_line(gw, info.value.response.headers["x-request-id"])
    assert (line["status"], line["attempts"], line["deployment"]) == (429, 0, None)

    def cooling() -> bool:
        keys = httpx.get(gw.url + "/admin/health").json()["keys"]
        return any(k["provider"] == "limited" and k["retry_in"] is not None for k in keys)

    until(lambda: not cooling())  # the key's Retry-After runs out (/admin/health says when)
    assert requests() == before + 1
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rl", messages=MESSAGES)
    assert requests() == before + 2  # cooled down for Retry-After, then tried again


def test_admin_health_reports_every_deployment(gw: Proc) -> None:
    report = httpx.get(gw.url + "/admin/health").json()
    by_id = {d["id"]: d for d in report["deployments"]}
    assert by_id["failing/t0"]["state"] in ("ejected", "half_open")
    assert by_id["mock/t1"]["state"] == "active" and "tiers" in by_id["mock/t1"]["models"]
    keys = {k["provider"]: k for k in report["keys"]}
    assert keys["mock"]["key"] == "sk-…0001" and "sk-test" not in str(report)

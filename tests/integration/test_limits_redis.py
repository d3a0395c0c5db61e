"""One global limit enforced by two gateway processes sharing the machine's Redis
(127.0.0.1:6379, under a key prefix of this test run) and one key database
(docs/reliability.md rows 16, 17).

300 concurrent calls against a 100-requests-per-minute key, split over both replicas, must give
exactly 100 successes; the same exactness holds for requests in flight and for a budget.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.test_auth import ADMIN, MASTER, new_key
from tests.integration.test_limits import aclient, limits_config, ok, one
from tests.support.procs import Proc, replica_pair
from tests.support.wait import until
from tests.unit.cache.redis_support import drop_prefix, shared_redis


@pytest.fixture(scope="module")
def pair(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp: Path = tmp_path_factory.mktemp("limits-redis")
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    config = limits_config(
        mock,
        limits={"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix},
        storage={"url": str(tmp / "shared.db")},
    )
    with replica_pair(config, tmp, {"TURNOUT_MASTER_KEY": MASTER}) as pair:
        yield pair
    drop_prefix(prefix)


def spread(pair: tuple[Proc, Proc], key: str, n: int, **kw: Any) -> list[Any]:
    """``n`` concurrent calls, alternating between the two replicas."""

    async def go() -> list[Any]:
        clients = [aclient(p.url, key) for p in pair]
        try:
            calls = [one(clients[i % 2], **kw) for i in range(n)]
            return list(await asyncio.gather(*calls))
        finally:
            for c in clients:
                await c.close()

    return asyncio.run(go())


def test_two_replicas_enforce_one_global_limit_exactly(pair: tuple[Proc, Proc]) -> None:
    key, _ = new_key(pair[0], rpm=100)
    until(lambda: _known(pair[1], key), 2.0)

    async def each_once() -> list[Any]:
        clients = [aclient(p.url, key) for p in pair]
        try:
            return [await one(c) for c in clients]
        finally:
            for c in clients:
                await c.close()

    # One call on each replica first: both serve a share whatever the race below decides
    # (on a quiet machine one replica's 150 can all win it).
    first = asyncio.run(each_once())
    assert ok(first) == 2, first
    results = spread(pair, key, 298)
    assert ok(results) == 98  # 100 in all, across both replicas
    refused: list[Any] = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, openai.RateLimitError) for r in refused)
    assert all(int(r.response.headers["retry-after"]) >= 1 for r in refused)


def test_requests_in_flight_across_replicas(pair: tuple[Proc, Proc]) -> None:
    key, _ = new_key(pair[1], max_parallel=3)
    until(lambda: _known(pair[0], key), 2.0)
    assert ok(spread(pair, key, 12, delay_ms=400)) == 3
    assert ok(spread(pair, key, 2)) == 2  # freed when they ended


def test_budget_across_replicas_overshoots_at_most_one_reservation(
    pair: tuple[Proc, Proc],
) -> None:
    key, key_id = new_key(pair[0], budget=0.5, budget_period="day")
    until(lambda: _known(pair[1], key), 2.0)
    results = spread(pair, key, 20, model="priced", max_tokens=1, tokens=1, delay_ms=300)
    assert ok(results) == 5  # $0.10 each: admitted while spent + reserved < $0.50

    def settled() -> bool:
        spend = httpx.get(f"{pair[1].url}/admin/keys/{key_id}", headers=ADMIN).json()["spend"]
        return bool(spend["reserved"] == 0 and spend["spent"] == pytest.approx(0.5))

    until(settled, 2.0)
    assert ok(spread(pair, key, 2, model="priced", max_tokens=1, tokens=1)) == 0


def _known(gw: Proc, key: str) -> bool:
    """The replica authenticates the key (without spending a request of a limited key)."""
    resp = httpx.get(gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"})
    return resp.status_code == 200

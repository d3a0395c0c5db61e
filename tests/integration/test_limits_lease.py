"""A call longer than ``limits.lease`` keeps its slot and its budget reservation until it ends,
on the memory backend and on Redis (the machine's, under a key prefix of this test run).

The gateway runs with a one-second lease; the mock writes a stream slowly
(``x-mock-chunk-ms``), so it runs several leases long. Before the fix, the slot of such a
stream was freed one lease after it began (``max_parallel: 1`` then admitted a second call
while the first still streamed) and its budget reservation stopped counting.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.integration.test_auth import MASTER, new_key
from tests.integration.test_limits import aclient, limits_config, one
from tests.integration.test_limits_redis import _known
from tests.support.procs import Proc, replica_pair, start_gateway
from tests.support.wait import until, until_async
from tests.unit.cache.redis_support import drop_prefix, shared_redis

LEASE = 1.0


@pytest.fixture(scope="module", params=["memory", "redis"])
def gw(
    request: pytest.FixtureRequest, mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp(f"lease-{request.param}")
    limits: dict[str, Any] = {"lease": LEASE}
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    if request.param == "redis":
        limits.update(backend="redis", redis_url=shared_redis(), key_prefix=prefix)
    proc = start_gateway(
        limits_config(mock, limits=limits), tmp, env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()
    if request.param == "redis":
        drop_prefix(prefix)


async def _slow_stream(client: openai.AsyncOpenAI, model: str, **kw: Any) -> Any:
    """A stream of ten chunks 400 ms apart: four seconds, four leases."""
    return await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-mock-chunk-ms": "400", "x-mock-tokens": "10"},
        **kw,
    )


def test_a_stream_longer_than_the_lease_keeps_its_slot_and_its_reservation(gw: Proc) -> None:
    parallel, _ = new_key(gw, max_parallel=1)
    budgeted, _ = new_key(gw, budget=1.0, budget_period="day")

    async def scenario() -> tuple[Any, Any, Any]:
        a, b = aclient(gw.url, parallel), aclient(gw.url, budgeted)
        try:
            # Ten tokens of ``priced`` at $0.10: the stream reserves the whole $1 budget.
            held_slot = await _slow_stream(a, "gpt-test")
            held_budget = await _slow_stream(b, "priced", max_tokens=10)
            started = time.monotonic()
            second = third = None
            chunks = 0
            async for _ in held_slot:  # while both streams run, past 2.5 leases
                chunks += 1
                if second is None and time.monotonic() - started > 2.5 * LEASE:
                    second = await one(a)
                    third = await one(b, model="priced", max_tokens=1)
            async for _ in held_budget:
                pass
            assert chunks >= 10 and second is not None

            async def freed() -> bool:  # once it ended, the slot is free at once
                return not isinstance(await one(a), Exception)

            await until_async(freed)
            return second, third, await one(b, model="priced", max_tokens=1)
        finally:
            await a.close()
            await b.close()

    second, third, after = asyncio.run(scenario())
    assert isinstance(second, openai.RateLimitError), second
    assert "in flight" in second.message
    assert isinstance(third, openai.RateLimitError), third
    assert "reserved by calls in flight" in third.message
    # Settled at its real cost ($1 for ten tokens), the budget is spent, not held.
    assert isinstance(after, openai.RateLimitError) and after.code == "insufficient_quota"


def test_a_crashed_replicas_slot_still_expires(
    mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two replicas on one Redis: while replica A streams, B refuses the key's second call
    however long the stream runs; once A is killed (no renewals), its slot expires and B
    admits the next call."""
    tmp: Path = tmp_path_factory.mktemp("lease-crash")
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    limits = {"lease": LEASE, "backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}
    config = limits_config(mock, limits=limits, storage={"url": str(tmp / "shared.db")})
    try:
        with replica_pair(config, tmp, {"TURNOUT_MASTER_KEY": MASTER}) as (a, b):
            key, _ = new_key(a, max_parallel=1)
            until(lambda: _known(b, key), 5.0)

            async def scenario() -> Any:
                on_a, on_b = aclient(a.url, key), aclient(b.url, key)
                try:
                    stream = await on_a.chat.completions.create(
                        model="gpt-test",
                        messages=[{"role": "user", "content": "hi"}],
                        stream=True,
                        extra_headers={"x-mock-chunk-ms": "400", "x-mock-tokens": "60"},
                    )
                    started = time.monotonic()
                    async for _ in stream:
                        if time.monotonic() - started > 2.5 * LEASE:
                            break
                    refused = await one(on_b)
                    a.signal(signal.SIGKILL)  # crashed mid-stream: nobody renews its slot

                    async def admitted() -> bool:
                        return not isinstance(await one(on_b), Exception)

                    await until_async(admitted, 15.0, step=0.1)
                    return refused
                finally:
                    await on_a.close()
                    await on_b.close()

            refused = asyncio.run(scenario())
            assert isinstance(refused, openai.RateLimitError) and "in flight" in refused.message
    finally:
        drop_prefix(prefix)

"""The Redis limiter when its Redis goes away: the configured policy, a short timeout, one log
line per outage, and recovery by itself. Each test runs its own ``redis-server``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.unit.cache.redis_support import PrivateRedis
from turnout.limits.plan import Plan, Rule, Ticket
from turnout.limits.redis import RedisLimiter

pytestmark = pytest.mark.asyncio(loop_scope="function")
PLAN = Plan((Rule("k:o", "key o", rpm=3),))


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


async def ok(limiter: RedisLimiter) -> bool:
    return (await limiter.admit(Ticket(PLAN))).ok


async def test_allow_falls_back_to_a_local_limit_and_recovers(redis: PrivateRedis) -> None:
    limiter = RedisLimiter(redis.url, prefix="t:", timeout=0.2, retry_after=0.3, on_error="allow")
    try:
        assert [await ok(limiter) for _ in range(2)] == [True, True]
        redis.stop()
        started = time.perf_counter()
        local = [await ok(limiter) for _ in range(5)]
        assert time.perf_counter() - started < 1.0
        # Never unlimited: the local limiter enforces the same 3 per minute on its own.
        assert local == [True, True, True, False, False]
        assert limiter.outages == 1 and not limiter.available
        redis.start()  # same port, empty
        await asyncio.sleep(0.35)
        assert await ok(limiter)  # back on Redis (fresh counters there)
        assert limiter.available and limiter.outages == 1
    finally:
        await limiter.close()


async def test_deny_refuses_while_down(redis: PrivateRedis) -> None:
    limiter = RedisLimiter(redis.url, prefix="t:", timeout=0.2, retry_after=0.3, on_error="deny")
    try:
        assert await ok(limiter)
        redis.stop()
        verdict = await limiter.admit(Ticket(PLAN))
        assert not verdict.ok and verdict.what == "unavailable" and verdict.rule is None
        assert verdict.retry_after == pytest.approx(0.3)
        redis.start()
        await asyncio.sleep(0.35)
        assert await ok(limiter)
    finally:
        await limiter.close()


async def test_a_frozen_redis_costs_one_timeout_then_nothing(redis: PrivateRedis) -> None:
    limiter = RedisLimiter(redis.url, prefix="t:", timeout=0.15, retry_after=5, on_error="allow")
    try:
        assert await ok(limiter)
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            started = time.perf_counter()
            assert await ok(limiter)
            first = time.perf_counter() - started
            started = time.perf_counter()
            assert await ok(limiter)
            second = time.perf_counter() - started
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        assert 0.1 < first < 0.6
        assert second < 0.01  # the circuit is open: no network at all
    finally:
        await limiter.close()

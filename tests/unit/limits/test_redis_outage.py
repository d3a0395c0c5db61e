"""The Redis limiter when its Redis goes away: the configured policy, a short timeout, one log
line per outage, and recovery by itself. Each test runs its own ``redis-server``.

The circuit runs on a hand-moved clock, so the retry time passes when a test says so and
never because the machine was slow; what touched Redis is counted (``limiter.failures``),
not timed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support.wait import until_async
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


class Clock:
    """The circuit's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter_for(
    redis: PrivateRedis, clock: Clock, timeout: float, retry_after: float, on_error: str
) -> RedisLimiter:
    return RedisLimiter(
        redis.url,
        prefix="t:",
        timeout=timeout,
        retry_after=retry_after,
        on_error=on_error,
        monotonic=clock,
    )


async def ok(limiter: RedisLimiter) -> bool:
    return (await limiter.admit(Ticket(PLAN))).ok


async def test_allow_falls_back_to_a_local_limit_and_recovers(redis: PrivateRedis) -> None:
    clock = Clock()
    limiter = limiter_for(redis, clock, timeout=0.2, retry_after=0.3, on_error="allow")
    try:
        assert [await ok(limiter) for _ in range(2)] == [True, True]
        assert limiter.failures == 0
        redis.stop()
        local = [await ok(limiter) for _ in range(5)]
        # Never unlimited: the local limiter enforces the same 3 per minute on its own.
        assert local == [True, True, True, False, False]
        # Only the first call tried Redis; the circuit kept the others off the network.
        assert limiter.failures == 1
        assert limiter.outages == 1 and not limiter.available
        redis.start()  # same port, empty
        assert not await ok(limiter)  # still within the retry time: local, and spent
        clock.now += 0.3
        assert await ok(limiter)  # back on Redis (fresh counters there)
        assert limiter.available and limiter.outages == 1 and limiter.failures == 1
    finally:
        await limiter.close()


async def test_deny_refuses_while_down(redis: PrivateRedis) -> None:
    clock = Clock()
    limiter = limiter_for(redis, clock, timeout=0.2, retry_after=0.3, on_error="deny")
    try:
        assert await ok(limiter)
        redis.stop()
        verdict = await limiter.admit(Ticket(PLAN))
        assert not verdict.ok and verdict.what == "unavailable" and verdict.rule is None
        assert verdict.retry_after == pytest.approx(0.3)
        redis.start()
        clock.now += 0.3
        assert await ok(limiter)
        assert limiter.failures == 1
    finally:
        await limiter.close()


async def test_a_frozen_redis_costs_one_timeout_then_nothing(redis: PrivateRedis) -> None:
    clock = Clock()
    limiter = limiter_for(redis, clock, timeout=0.15, retry_after=5, on_error="allow")
    try:
        assert await ok(limiter)
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            started = time.perf_counter()
            assert await ok(limiter)
            first = time.perf_counter() - started
            assert limiter.failures == 1  # the call waited for its timeout, once
            assert await ok(limiter)  # locally (3 a minute: room for two while frozen)
            # The circuit is open: no call reached the frozen Redis (each would have timed
            # out and counted).
            assert limiter.failures == 1 and not limiter.available
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        assert first > 0.1  # the timeout was really waited for (Redis was frozen, not gone)
        clock.now += 5
        assert await ok(limiter)  # the trial after the retry time finds Redis answering
        assert limiter.available and limiter.failures == 1
    finally:
        await limiter.close()


async def test_an_admission_given_up_leaves_no_slot_or_reservation(redis: PrivateRedis) -> None:
    """A caller that goes away while its admission is on the way to Redis (a client hanging
    up) used to leave the slot and the reservation the script took to no call, held for the
    whole lease; they are now taken back once the admission's batch has been answered."""
    from turnout.limits.plan import BudgetRule

    limiter = limiter_for(redis, Clock(), timeout=2, retry_after=1, on_error="deny")
    budget = BudgetRule("k:c", "key c", amount=1.0, period="month")
    plan = Plan((Rule("k:c", "key c", parallel=1),), (budget,))
    try:
        for _ in range(3):
            ticket = Ticket(plan, cost=0.5)
            ticket.periods = (0,)
            task = asyncio.ensure_future(limiter.admit(ticket))
            await asyncio.sleep(0)  # the script is queued for the next batch, then given up
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

            async def free() -> bool:  # the one slot, and the budget, admit a call again
                again = Ticket(plan, cost=0.9)
                again.periods = (0,)
                verdict = await limiter.admit(again)
                if verdict.ok:
                    limiter.finish(again)
                    await limiter.settle([(again, 0, 0.0)])
                return verdict.ok

            await until_async(free, 5)
    finally:
        await limiter.close()

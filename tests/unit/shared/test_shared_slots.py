"""What the replicas decide together on Redis: concurrency slots, half-open trials and a sticky
client's first pin; and what each does when Redis is gone.

Health services in one process stand for replicas (as in ``test_shared_state``); the router's
use of all three runs against real gateways in ``tests/integration/test_replicas_state.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from tests.support.wait import until_async
from tests.unit.cache.redis_support import PrivateRedis, shared_redis
from tests.unit.routing.helpers import runtime
from tests.unit.shared.test_shared_state import _raw
from turnout.health.breaker import EJECTED
from turnout.health.service import HealthService
from turnout.shared.redis import RedisStateBackend


def _limited(prefix: str, url: str | None = None, timeout: float = 1.0) -> dict[str, Any]:
    raw = _raw(prefix)
    raw["models"]["m"]["deployments"][0]["max_concurrent"] = 2
    if url is not None:
        raw["shared"]["redis_url"] = url
    raw["shared"]["redis_timeout"] = timeout
    return raw


@asynccontextmanager
async def services(raw: dict[str, Any], n: int) -> AsyncIterator[list[HealthService]]:
    started = [HealthService(runtime(raw)) for _ in range(n)]
    for service in started:
        await service.start({}, keeper=False)
    try:
        yield started
    finally:
        for service in started:
            await service.stop()


def test_max_concurrent_is_counted_once_for_every_replica() -> None:
    asyncio.run(_test_max_concurrent_is_counted_once_for_every_replica())


async def _test_max_concurrent_is_counted_once_for_every_replica() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    async with services(_limited(prefix), 3) as replicas:
        healths = [s.board.deployments["a/x"] for s in replicas]
        assert all(h.slots is not None for h in healths)
        assert replicas[0].board.deployments["a/y"].slots is None  # no limit: no slots
        now = time.monotonic()
        got = []
        for i in range(6):
            slots = healths[i % 3].slots
            assert slots is not None
            got.append(await slots.acquire(healths[i % 3], now))
        assert got == [True, True, False, False, False, False]
        # A refusal makes the deployment full here for a moment, without asking again.
        assert not healths[2].available(now)
        assert healths[2].blocked(now)[0] == "limited"
        key = replicas[0].backend.key("slots:a/x")  # type: ignore[union-attr]
        client = aioredis.from_url(shared_redis())
        try:
            assert await client.zcard(key) == 2
            healths[0].inflight = 1
            healths[0].leave()  # a call ends: its slot goes back
            await _until_async(lambda: client.zcard(key), 1)
            slots2 = healths[2].slots
            assert slots2 is not None
            assert await slots2.acquire(healths[2], time.monotonic() + 1)
        finally:
            await client.aclose()


async def _until_async(read: Any, want: int, limit: float = 15.0) -> None:
    started = time.monotonic()
    while await read() != want:
        assert time.monotonic() - started < limit, f"not within {limit} s"
        await asyncio.sleep(0.01)


def test_slots_are_renewed_while_held_and_expire_when_their_holder_dies() -> None:
    asyncio.run(_test_slots_are_renewed_while_held_and_expire_when_their_holder_dies())


async def _test_slots_are_renewed_while_held_and_expire_when_their_holder_dies() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    raw = _limited(prefix)
    raw["health"]["lease"] = 1.5  # renewed every 0.5 s: a busy machine has 1 s to spare
    async with services(raw, 1) as (other,):
        one = HealthService(runtime(raw))
        await one.start({}, keeper=False)
        dep, theirs = one.board.deployments["a/x"], other.board.deployments["a/x"]
        assert dep.slots is not None and theirs.slots is not None and one.sync is not None
        assert await dep.slots.acquire(dep, time.monotonic())
        assert await dep.slots.acquire(dep, time.monotonic())
        # Renewed past their lease (three renewals a lease): still held.
        start = one.sync.renewals
        await until_async(lambda: one.sync is not None and one.sync.renewals >= start + 4, 15)
        assert not await theirs.slots.acquire(theirs, time.monotonic())
        await one.stop()  # no more renewals, no release: as if the process had died
        deadline = time.monotonic() + 5
        while not await theirs.slots.acquire(theirs, time.monotonic() + 10):
            assert time.monotonic() < deadline, "the dead holder's slots did not expire"
            await asyncio.sleep(0.02)


def test_one_half_open_trial_for_every_replica() -> None:
    asyncio.run(_test_one_half_open_trial_for_every_replica())


async def _test_one_half_open_trial_for_every_replica() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    async with services(_raw(prefix), 3) as replicas:
        deps = [s.board.deployments["a/x"] for s in replicas]
        now = time.monotonic()
        for dep in deps:  # cooled down everywhere: half-open
            dep.state, dep.until = EJECTED, now - 0.1
        trials = [s.board.trials for s in replicas]
        assert all(t is not None for t in trials)
        got = [await t.take(d, now) for t, d in zip(trials, deps, strict=True)]  # type: ignore[union-attr]
        assert got == [True, False, False]
        assert deps[0].trial  # reserved for the call about to go
        assert not deps[1].available(now) and deps[1].until > now  # skipped for a while
        # The trial ends: its outcome is published, the lease cut to the settle time.
        deps[0].succeed(time.monotonic())
        await until_async(lambda: all(d.state == "active" for d in deps), 15)
        await until_async(lambda: not trials[0].held, 15)  # type: ignore[union-attr]


def test_the_first_pin_of_a_client_is_claimed_once_for_every_replica() -> None:
    asyncio.run(_test_the_first_pin_of_a_client_is_claimed_once_for_every_replica())


async def _test_the_first_pin_of_a_client_is_claimed_once_for_every_replica() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    a = RedisStateBackend(shared_redis(), prefix, 1.0)
    b = RedisStateBackend(shared_redis(), prefix, 1.0)
    try:
        got = await asyncio.gather(
            a.claim_pin("m", "s:agent", "a/x", 60), b.claim_pin("m", "s:agent", "a/y", 60)
        )
        assert got[0][0] == got[1][0]
        assert 0 < got[1][1] <= 60
    finally:
        await a.close()
        await b.close()


def test_without_redis_each_replica_decides_alone_within_the_timeout() -> None:
    asyncio.run(_test_without_redis_each_replica_decides_alone_within_the_timeout())


async def _test_without_redis_each_replica_decides_alone_within_the_timeout() -> None:
    private = PrivateRedis().start()
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    try:
        async with services(_limited(prefix, private.url, timeout=0.3), 1) as (one,):
            dep = one.board.deployments["a/x"]
            slots, trials, sync = dep.slots, one.board.trials, one.sync
            assert slots is not None and trials is not None and sync is not None
            assert sync.claims is not None
            assert await slots.acquire(dep, time.monotonic())
            private.stop()
            # Every decision falls back to this process alone, none waits past the timeout.
            assert await slots.acquire(dep, time.monotonic())
            assert slots.failures == 1 and slots.loose == 1
            assert await slots.acquire(dep, time.monotonic())  # skipped: no second wait
            dep.state, dep.until = EJECTED, 0.0
            assert await trials.take(dep, time.monotonic())
            dep.trial = False
            assert await sync.claims.claim("m", "s:c", "a/x", 60) is None
            for _ in range(3):
                slots.release()
            assert slots.held() == 0
    finally:
        private.stop()


def test_records_are_ordered_by_when_their_transition_happened() -> None:
    asyncio.run(_test_records_are_ordered_by_when_their_transition_happened())


async def _test_records_are_ordered_by_when_their_transition_happened() -> None:
    from turnout.health.board import HealthBoard
    from turnout.shared.port import MemoryStateBackend
    from turnout.shared.sync import StateSync

    board = HealthBoard(runtime(_raw("unused:")))
    sync = StateSync(board, MemoryStateBackend(), 0.1, "here")
    dep = board.deployments["a/x"]
    dep.eject(time.monotonic(), "server_error")
    ejected_at = dep.changed
    # Another replica's newer verdict arrives before this one's flush: not applied over the
    # unpublished transition, and not forgotten either.
    newer = {"kind": "deployment", "id": "a/x", "state": "active", "at": ejected_at + 1,
             "origin": "there"}  # fmt: skip
    assert sync.apply([newer]) == 0 and dep.state == EJECTED
    await sync.publish(board.take_dirty())  # a late flush: stamped when it happened
    assert sync.seen[("deployment", "a/x")] == ejected_at
    assert sync.apply([newer]) == 1 and dep.state == "active"  # the newer verdict wins
    older = {**newer, "state": "ejected", "at": ejected_at + 0.5, "until": time.time() + 60}
    assert sync.apply([older]) == 0 and dep.state == "active"

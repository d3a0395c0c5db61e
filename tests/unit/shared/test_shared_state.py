"""The shared state port on both backends, and replicas kept in step through it.

Two health services in one process stand for two replicas: each has its own board, and the
Redis backend (the machine's Redis, under a fresh prefix) is all they share. The replica tests
run their own event loop (``asyncio.run``), closed with everything they started.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.wait import until_async
from tests.unit.cache.redis_support import shared_redis
from tests.unit.routing.helpers import runtime
from turnout.health.breaker import EJECTED, INVALID
from turnout.health.service import HealthService
from turnout.shared.port import MemoryStateBackend, Pin, StateBackend
from turnout.shared.redis import RedisStateBackend
from turnout.shared.sync import KEEPER_LEASE


def _redis_config(prefix: str) -> dict[str, Any]:
    return {"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}


def _raw(prefix: str, sticky: bool = False) -> dict[str, Any]:
    model: dict[str, Any] = {
        "deployments": [{"provider": "a", "model": "x"}, {"provider": "a", "model": "y"}]
    }
    if sticky:
        model["strategy"] = "sticky"
    return {
        "providers": {"a": {"type": "openai", "api_keys": ["sk-aaaa-0001", "sk-aaaa-0002"]}},
        "models": {"m": model},
        "storage": {"enabled": False},
        "shared": {**_redis_config(prefix), "sync_interval": 0.02},
        "health": {"lease": 0.6},
    }


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    if request.param == "memory":
        yield MemoryStateBackend()
        return
    b = RedisStateBackend(shared_redis(), f"turnout-test:{uuid.uuid4().hex[:8]}:", 1.0)
    yield b
    await b.close()


async def test_leases_are_exclusive_renewable_and_released(backend: StateBackend) -> None:
    assert await backend.acquire("keeper", "one", 5)
    assert not await backend.acquire("keeper", "two", 5)
    assert await backend.acquire("keeper", "one", 5)  # renewed by its holder
    info = await backend.lease("keeper")
    assert info.holder == "one" and info.expires_in is not None and info.expires_in <= 5
    await backend.release("keeper", "two")  # not the holder: nothing happens
    assert (await backend.lease("keeper")).holder == "one"
    await backend.release("keeper", "one")
    assert (await backend.lease("keeper")).holder is None
    assert await backend.acquire("keeper", "two", 0.05)
    await asyncio.sleep(0.1)
    assert await backend.acquire("keeper", "three", 5)  # an expired lease is free


def test_redis_records_pins_and_latency_reach_another_reader() -> None:
    asyncio.run(_test_redis_records_pins_and_latency_reach_another_reader())


async def _test_redis_records_pins_and_latency_reach_another_reader() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    a = RedisStateBackend(shared_redis(), prefix, 1.0)
    b = RedisStateBackend(shared_redis(), prefix, 1.0)
    try:
        assert await b.changes() in (None, [])
        await a.publish([{"kind": "key", "id": "k1", "state": "invalid", "at": 1.0}])
        assert [r["id"] for r in await b.changes() or []] == ["k1"]
        assert await b.changes() is None  # nothing new since
        pin = Pin("m", "s:client", "a/x", time.time() + 60, "a")
        await a.publish_pins([pin, Pin("m", "old", "a/y", time.time() - 1, "a")])
        assert await b.new_pins() == [pin]  # expired pins are not handed out
        assert await b.new_pins() == []
        await a.publish_latency("a", {"a/x": (0.2, 10)})
        await b.publish_latency("b", {"a/x": (0.4, 30)})
        merged = await a.latencies()
        assert sorted((lat, n) for lat, n, _ in merged["a/x"]) == [(0.2, 10), (0.4, 30)]
    finally:
        await a.close()
        await b.close()


@contextlib.asynccontextmanager
async def replicas() -> AsyncIterator[tuple[HealthService, HealthService]]:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    one, two = HealthService(runtime(_raw(prefix))), HealthService(runtime(_raw(prefix)))
    await one.start({}, keeper=False)
    await two.start({}, keeper=False)
    try:
        yield one, two
    finally:
        await one.stop()
        await two.stop()


def test_a_key_marked_invalid_on_one_replica_is_skipped_by_the_other() -> None:
    asyncio.run(_test_a_key_marked_invalid_on_one_replica_is_skipped_by_the_other())


async def _test_a_key_marked_invalid_on_one_replica_is_skipped_by_the_other() -> None:
    async with replicas() as (one, two):
        key = one.board.pools[("a", "x")].keys[0]
        now = time.monotonic()
        key.mark(INVALID, "invalid_key", now + 60, now)
        other = two.board.pools[("a", "x")].keys[0]
        # One flush of the replica that saw it and one read of the other's: no waiting on the
        # intervals (their length, ≤ shared.sync_interval each, is what "within a second" is).
        await one.flush()
        assert two.sync is not None
        await two.sync.tick()
        assert other.state == INVALID
        assert not other.usable(time.monotonic())
        assert (
            two.board.pools[("a", "x")].pick(time.monotonic())
            is two.board.pools[("a", "x")].keys[1]
        )
        # ... and recovered everywhere when the first replica sees it work again
        key.reset(time.monotonic())
        await until_async(lambda: other.state == "active", 15)


def test_an_ejected_deployment_is_ejected_everywhere() -> None:
    asyncio.run(_test_an_ejected_deployment_is_ejected_everywhere())


async def _test_an_ejected_deployment_is_ejected_everywhere() -> None:
    async with replicas() as (one, two):
        dep = one.board.deployments["a/x"]
        dep.eject(time.monotonic(), "server_error")
        other = two.board.deployments["a/x"]
        await until_async(lambda: other.state == EJECTED, 15)
        assert not other.available(time.monotonic())
        assert abs((other.until - time.monotonic()) - (dep.until - time.monotonic())) < 0.5
        assert two.board.deployments["a/y"].state == "active"


def test_latency_is_merged_across_replicas() -> None:
    asyncio.run(_test_latency_is_merged_across_replicas())


async def _test_latency_is_merged_across_replicas() -> None:
    async with replicas() as (one, two):
        for _ in range(10):
            one.board.deployments["a/x"].observe_latency(0.1)
            two.board.deployments["a/x"].observe_latency(0.3)
        assert one.sync is not None and two.sync is not None
        one.sync._slow_at = two.sync._slow_at = 0.0  # merge at the next tick
        await until_async(lambda: abs(two.board.deployments["a/x"].latency - 0.2) < 0.01, 15)


def test_one_keeper_holds_the_lease_and_another_takes_over() -> None:
    asyncio.run(_test_one_keeper_holds_the_lease_and_another_takes_over())


async def _test_one_keeper_holds_the_lease_and_another_takes_over() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    one, two = HealthService(runtime(_raw(prefix))), HealthService(runtime(_raw(prefix)))
    await one.start({}, keeper=True)
    await until_async(lambda: one.lease_info().holder == one.name, 15)
    await two.start({}, keeper=True)
    await asyncio.sleep(0.3)
    assert two.lease_info().holder == one.name  # one probes, the other waits
    await one.stop()  # a clean stop hands the lease over at once: not left to expire
    assert two.backend is not None
    assert (await two.backend.lease(KEEPER_LEASE)).holder in (None, two.name)  # released
    await until_async(lambda: two.lease_info().holder == two.name, 15)
    await two.stop()


def test_sticky_pins_are_shared() -> None:
    asyncio.run(_test_sticky_pins_are_shared())


async def _test_sticky_pins_are_shared() -> None:
    from turnout.routing.router import Router
    from turnout.routing.strategies.sticky import Sticky

    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    services, stickies = [], []
    for _ in range(2):
        rt = runtime(_raw(prefix, sticky=True))
        service = HealthService(rt)
        service.router = Router(rt, {"a": _NoProvider()}, service.board)
        await service.start({}, keeper=False)
        strategy = service.router.plans["m"].strategy
        assert isinstance(strategy, Sticky)
        services.append(service)
        stickies.append(strategy)
    try:
        a, b = stickies
        member = a.members[1]
        from tests.unit.routing.helpers import call

        c = call()
        c.sticky_key = "s:agent-1"
        a.answered(c, member)
        await until_async(lambda: b.pinned("s:agent-1") is not None, 15)
        pinned = b.pinned("s:agent-1")
        assert pinned is not None and pinned.spec.id == member.spec.id
    finally:
        for service in services:
            await service.stop()


class _NoProvider:
    spec: Any = None

    async def send(self, *args: Any) -> Any:
        raise AssertionError("not called")

    async def close(self) -> None:
        return None


def test_a_deployment_rpm_is_counted_once_for_every_replica() -> None:
    asyncio.run(_test_a_deployment_rpm_is_counted_once_for_every_replica())


async def _test_a_deployment_rpm_is_counted_once_for_every_replica() -> None:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    raw = _raw(prefix)
    raw["models"]["m"]["deployments"][0]["rpm"] = 7
    services = [HealthService(runtime(raw)) for _ in range(3)]
    for service in services:
        await service.start({}, keeper=False)
    try:
        healths = [s.board.deployments["a/x"] for s in services]
        assert all(h.gate is not None for h in healths)
        assert services[0].board.deployments["a/y"].gate is None  # no limit: no gate
        admitted = 0
        for i in range(21):
            health = healths[i % 3]
            gate = health.gate
            assert gate is not None
            if await gate.admit(health, 10):
                admitted += 1
        assert admitted == 7
        # A refusal fills this process's window: it routes around without asking again.
        assert not healths[0].available(time.monotonic())
    finally:
        for service in services:
            await service.stop()

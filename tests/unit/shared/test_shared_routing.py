"""The router's side of what replicas decide together: every way a call ends gives its slot
back, and a recovering key gets one trial from all replicas.

Each "replica" is a health service and a router over scripted providers, in one process; the
machine's Redis under a fresh prefix is all they share.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.wait import until_async
from tests.unit.routing.helpers import Script, call, error, ok, providers, runtime, stream
from tests.unit.shared.test_shared_state import _raw
from turnout.errors import BadRequest, UpstreamGaveUp
from turnout.health.breaker import RATE_LIMITED
from turnout.health.service import HealthService
from turnout.routing.router import Router
from turnout.types import Call


@asynccontextmanager
async def replicas(
    raw: dict[str, Any], script: Script, n: int
) -> AsyncIterator[tuple[list[Router], list[tuple[str, str, str]]]]:
    log: list[tuple[str, str, str]] = []
    services, routers = [], []
    for _ in range(n):
        rt = runtime(raw)
        service = HealthService(rt)
        provs = providers(rt, {"a": script}, log)
        service.router = Router(rt, provs, service.board)
        await service.start(provs, keeper=False)
        services.append(service)
        routers.append(service.router)
    try:
        yield routers, log
    finally:
        for service in services:
            await service.stop()


def _one_deployment(max_concurrent: int) -> dict[str, Any]:
    raw = _raw(f"turnout-test:{uuid.uuid4().hex[:8]}:")
    raw["models"]["m"]["deployments"] = [
        {"provider": "a", "model": "x", "max_concurrent": max_concurrent}
    ]
    raw["routing"] = {"max_attempts": 1}
    return raw


def test_every_way_a_routed_call_ends_gives_its_slot_back() -> None:
    asyncio.run(_test_every_way_a_routed_call_ends_gives_its_slot_back())


async def _test_every_way_a_routed_call_ends_gives_its_slot_back() -> None:
    answers: list[Any] = []
    hold = asyncio.Event()

    async def script(d: Any, k: str, c: Call) -> Any:
        answer = answers.pop(0)
        if answer == "hold":
            await hold.wait()
            return ok()
        return answer

    async with replicas(_one_deployment(1), script, 1) as ((router,), log):
        health = router.board.deployments["a/x"]
        slots = health.slots
        assert slots is not None

        async def freed() -> None:
            await until_async(lambda: slots.held() == 0 and health.inflight == 0, 15)
            await until_async(lambda: not slots._pending, 15)  # the ZREM went out
            assert await slots.backend.client.zcard(slots._key) == 0

        async def route(answer: Any) -> Any:
            answers.append(answer)
            return await router(call())

        assert (await route(ok())).status == 200
        await freed()
        assert (await route(error(500))).status == 500  # an upstream error
        await freed()
        with pytest.raises(BadRequest):  # a request that cannot be sent
            await route(BadRequest("no"))
        await freed()
        with pytest.raises(UpstreamGaveUp):  # a transport failure
            await route(UpstreamGaveUp("reset"))
        await freed()
        reply = await route(stream(b"a", b"b", b"c"))  # a stream cut by its client
        assert reply.chunks is not None
        assert await anext(reply.chunks) == b"a"
        assert slots.held() == 1
        await reply.chunks.aclose()
        await freed()
        reply = await route(stream(b"a", fail_after=UpstreamGaveUp("cut")))  # cut upstream
        assert reply.chunks is not None
        with pytest.raises(UpstreamGaveUp):
            async for _ in reply.chunks:
                pass
        await freed()
        task = asyncio.create_task(route("hold"))  # the client goes away mid-call
        await until_async(lambda: slots.held() == 1 and len(log) == 7, 15)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await freed()


def test_a_recovering_key_gets_one_trial_from_all_replicas() -> None:
    asyncio.run(_test_a_recovering_key_gets_one_trial_from_all_replicas())


async def _test_a_recovering_key_gets_one_trial_from_all_replicas() -> None:
    hold = asyncio.Event()

    async def script(d: Any, k: str, c: Call) -> Any:
        if k == "sk-aaaa-0001":
            await hold.wait()
        return ok()

    raw = _raw(f"turnout-test:{uuid.uuid4().hex[:8]}:")
    raw["models"]["m"]["deployments"] = [{"provider": "a", "model": "x"}]
    async with replicas(raw, script, 3) as (routers, log):
        keys = [r.board.pools[("a", "x")].keys[0] for r in routers]
        now = time.monotonic()
        keys[0].mark(RATE_LIMITED, "rate_limited", now + 0.3, now)  # a 429 on one replica
        await until_async(lambda: all(k.state == RATE_LIMITED for k in keys), 15)  # seen by all
        await until_async(
            lambda: all(k.until <= time.monotonic() for k in keys), 15
        )  # now half-open
        sent = [asyncio.create_task(r(call())) for r in routers for _ in range(2)]
        await until_async(lambda: sum(t.done() for t in sent) == 5, 15)
        assert [k for _, _, k in log].count("sk-aaaa-0001") == 1  # one trial for all three
        hold.set()
        assert [r.status for r in await asyncio.gather(*sent)] == [200] * 6
        # Its success reaches every replica: the key is active again everywhere.
        await until_async(
            lambda: all(r.board.pools[("a", "x")].keys[0].state == "active" for r in routers), 15
        )


def test_a_reload_shares_the_new_limits_and_keeps_the_slots_in_flight() -> None:
    asyncio.run(_test_a_reload_shares_the_new_limits_and_keeps_the_slots_in_flight())


async def _test_a_reload_shares_the_new_limits_and_keeps_the_slots_in_flight() -> None:
    from turnout.health.board import HealthBoard

    raw = _one_deployment(2)
    rt = runtime(raw)
    service = HealthService(rt)
    log: list[tuple[str, str, str]] = []
    service.router = Router(rt, providers(rt, {}, log), service.board)
    await service.start({}, keeper=False)
    try:
        old = service.board.deployments["a/x"]
        assert old.slots is not None and await old.slots.acquire(old, time.monotonic())
        raw["models"]["m"]["deployments"].append({"provider": "a", "model": "y", "rpm": 5,
                                                  "max_concurrent": 3})  # fmt: skip
        new_rt = runtime(raw)
        board = HealthBoard(new_rt, previous=service.board)
        provs = providers(new_rt, {}, log)
        service.use(new_rt, board, Router(new_rt, provs, board), provs)
        assert board.trials is not None and board.trials is service.sync.trials  # type: ignore[union-attr]
        assert board.deployments["a/x"].slots is old.slots  # same limit: the same slots
        assert old.slots.held() == 1
        added = board.deployments["a/y"]
        assert added.slots is not None and added.gate is not None
        assert service.sync is not None and added.slots in service.sync.slots
    finally:
        await service.stop()

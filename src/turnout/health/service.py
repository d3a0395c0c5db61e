"""Health as a service of the running gateway: the board, its persistence, the keeper.

Built in ``create_app`` (the board must exist before the router); started in the lifespan,
where a background task saves changed targets to the state store and logs transitions, and
the keeper runs when ``health.keeper`` is on (``serve --with-worker``, or ``turnout worker``).
With ``shared.backend: redis`` the changed targets are also published to the other replicas
and theirs applied here (:mod:`turnout.shared.sync`), and the keeper probes only while it holds
the one keeper lease of the deployment, so however many processes run a keeper, one probes.
Nothing here runs on the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from turnout.api.io import JSON, send_bytes
from turnout.config.compile import Runtime
from turnout.health.admin import health_report
from turnout.health.board import HealthBoard
from turnout.health.breaker import ACTIVE, EJECTED
from turnout.health.keeper import HealthKeeper
from turnout.health.store import HealthStore, MemoryHealthStore
from turnout.observability.logging import get_logger
from turnout.providers.base import Provider
from turnout.routing.router import Router
from turnout.shared.port import LeaseInfo, StateBackend, build_backend
from turnout.shared.sync import KEEPER_LEASE, StateSync, process_name, stopping
from turnout.types import Receive, Scope, Send

log = get_logger("turnout.health")
FLUSH_INTERVAL = 0.5
CLOSE_TIMEOUT = 2.0


class HealthService:
    def __init__(
        self, runtime: Runtime, store: HealthStore | None = None, role: str = "serve"
    ) -> None:
        self.runtime = runtime
        self.board = HealthBoard(runtime)
        self.store: HealthStore = store if store is not None else MemoryHealthStore()
        self.router: Router | None = None
        self.keeper: HealthKeeper | None = None
        self.name = process_name(role)  # in leases and published records
        self.backend: StateBackend | None = None
        self.sync: StateSync | None = None
        self.lease = LeaseInfo(None, None)  # the keeper lease, as last seen here
        self.flush_interval = FLUSH_INTERVAL
        self._tasks: list[asyncio.Task[None]] = []
        self._routes: dict[str, list[str]] = {}
        # More sections of GET /admin/health, by name, from other parts of the gateway.
        self.sections: dict[str, Callable[[], Any]] = {}
        self._index_routes()

    def _index_routes(self) -> None:
        self._routes = {}
        for route in self.runtime.routes():
            for spec in route.deployments:
                self._routes.setdefault(spec.id, []).append(route.name)

    def use(
        self,
        runtime: Runtime,
        board: HealthBoard,
        router: Router,
        providers: Mapping[str, Provider],
    ) -> None:
        """A reload swapped the generation: report, save and probe the new board (its carried
        targets are the old ones; the journal is shared, so nothing waiting is lost)."""
        self.runtime, self.board, self.router = runtime, board, router
        self._index_routes()
        if self.keeper is not None:
            self.keeper.retarget(board, providers)
        if self.sync is not None:
            self.sync.use(board, router.plans)
            self._share(board)

    def _share(self, board: HealthBoard) -> None:
        """Count ``rpm``/``tpm`` and ``max_concurrent`` for every replica, and take one
        half-open trial for all of them (turnout.shared: gate, slots, trials)."""
        from turnout.shared import gate, slots
        from turnout.shared.redis import RedisStateBackend
        from turnout.shared.trials import SharedTrials

        backend, sync, cfg = self.backend, self.sync, self.runtime.config
        if not isinstance(backend, RedisStateBackend) or sync is None:
            return
        timeout, ttl = cfg.shared.redis_timeout, cfg.health.lease
        gate.install(backend, board.deployments, timeout)
        sync.slots = slots.install(backend, board.deployments, self.name, timeout, ttl)
        sync.lease_ttl = ttl
        if sync.trials is None:
            settle = max(1.0, 4 * cfg.shared.sync_interval)
            sync.trials = SharedTrials(backend, self.name, timeout, ttl, settle)
        board.trials = sync.trials

    async def start(self, providers: Mapping[str, Provider], *, keeper: bool) -> None:
        try:
            restored = self.board.restore(await self.store.load())
        except Exception as exc:  # a store outage must not keep the gateway from starting
            log.warning("health state not restored", error=str(exc))
        else:
            if restored:
                log.info("health state restored", targets=restored)
        cfg = self.runtime.config
        loop = asyncio.get_running_loop()
        self.backend = build_backend(cfg.shared)
        if self.backend.shared:
            self.sync = StateSync(
                self.board,
                self.backend,
                cfg.shared.sync_interval,
                self.name,
                cfg.shared.redis_timeout,
            )
            if self.router is not None:
                self.sync.attach(self.router.plans)
            self.flush_interval = min(FLUSH_INTERVAL, cfg.shared.sync_interval)
            self._share(self.board)
            try:  # what the others know already, before the first request
                await self.sync.tick()
            except Exception as exc:
                log.warning("shared state unreachable at start", error=str(exc))
            self._tasks.append(loop.create_task(self.sync.run()))
        self._tasks.append(loop.create_task(self._flush_forever()))
        if keeper:
            self.keeper = HealthKeeper(self.board, providers, cfg.health, cfg.routing.cooldowns)
            self._tasks.append(loop.create_task(self._keep_under_lease(self.keeper)))
            log.info("health keeper started", keys=len(self.keeper.targets), name=self.name)

    async def _keep_under_lease(self, keeper: HealthKeeper) -> None:
        """Probe only while holding the keeper lease: renewed every third of its length,
        tried for about every tenth while another process holds it."""
        assert self.backend is not None
        ttl = self.runtime.config.health.lease
        task: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    held = await self.backend.acquire(KEEPER_LEASE, self.name, ttl)
                except Exception as exc:
                    stopping(exc)
                    held = False  # nobody can tell who holds it: better none than all
                    log.warning("keeper lease unreachable", error=str(exc))
                if held and task is None:
                    log.info("keeper lease taken", holder=self.name, ttl=ttl)
                    task = asyncio.get_running_loop().create_task(keeper.run())
                elif not held and task is not None:
                    log.warning("keeper lease lost", holder=self.name)
                    task.cancel()
                    task = None
                try:
                    self.lease = await self.backend.lease(KEEPER_LEASE)
                except Exception as exc:
                    stopping(exc)
                await asyncio.sleep(ttl / 3 if held else max(0.05, min(ttl / 10, 1.0)))
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.backend.release(KEEPER_LEASE, self.name)

    def lease_info(self) -> LeaseInfo:
        """The keeper lease as this process last saw it (its own loop, or the sync task)."""
        if self.keeper is None and self.sync is not None:
            return self.sync.lease
        return self.lease

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # Cancelled again until it ends: a client library may have answered the first
            # cancellation with an error of its own, which a loop that outlives errors absorbs.
            while not task.done():
                await asyncio.wait({task}, timeout=0.1)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._tasks.clear()
        await self.flush()
        await self.store.close()
        if self.backend is not None:
            with contextlib.suppress(Exception):  # a Redis that hangs must not hold the exit
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.backend.close()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()

    async def flush(self) -> None:
        self._log_events()
        records = self.board.take_dirty()
        if not records:
            return
        if self.sync is not None:
            try:
                await self.sync.publish(records)
            except Exception as exc:
                log.warning("health state not shared", error=str(exc), records=len(records))
        try:
            await self.store.save(records)
        except Exception as exc:
            log.warning("health state not saved", error=str(exc), records=len(records))

    def _log_events(self) -> None:
        events = self.board.journal.events
        now = asyncio.get_running_loop().time()
        while events:
            kind, target, old, new, reason, seconds = events.popleft()
            fields = {"kind": kind, "id": target, "old": old, "new": new, "reason": reason}
            if new == ACTIVE:
                log.info("recovered", **fields)
                continue
            log.warning("cooling down", **fields, seconds=round(seconds, 3))
            if kind == "deployment" and new == EJECTED:
                self._check_routes(target, now)

    def _check_routes(self, deployment: str, now: float) -> None:
        """Ejecting the last healthy deployment of a model is allowed, never silent."""
        if self.router is None:
            return
        clock = self.router.clock()
        for name in self._routes.get(deployment, []):
            plan = self.router.plans.get(name)
            if plan is not None and not any(m.health.available(clock) for m in plan.members):
                fallbacks = list(plan.fallbacks)
                log.error(
                    "no healthy deployment left",
                    model=name,
                    fallbacks=fallbacks,
                    then="fallback models" if fallbacks else "fast 503 with Retry-After",
                )

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        report = health_report(self.board, self.router, self.keeper, self.lease_info(), self.name)
        for section, part in self.sections.items():  # e.g. the MCP servers (docs/mcp.md)
            report[section] = part()
        await send_bytes(send, 200, [JSON], orjson.dumps(report))

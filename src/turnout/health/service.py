"""Health as a service of the running gateway: the board, its persistence, the keeper.

Built in ``create_app`` (the board must exist before the router); started in the lifespan,
where a background task saves changed targets to the state store and logs transitions, and
the keeper runs when ``health.keeper`` is on (``serve --with-worker``). Nothing here runs on
the request path.
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
from turnout.types import Receive, Scope, Send

log = get_logger("turnout.health")
FLUSH_INTERVAL = 0.5


class HealthService:
    def __init__(self, runtime: Runtime, store: HealthStore | None = None) -> None:
        self.runtime = runtime
        self.board = HealthBoard(runtime)
        self.store: HealthStore = store if store is not None else MemoryHealthStore()
        self.router: Router | None = None
        self.keeper: HealthKeeper | None = None
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

    async def start(self, providers: Mapping[str, Provider], *, keeper: bool) -> None:
        try:
            restored = self.board.restore(await self.store.load())
        except Exception as exc:  # a store outage must not keep the gateway from starting
            log.warning("health state not restored", error=str(exc))
        else:
            if restored:
                log.info("health state restored", targets=restored)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._flush_forever()))
        if keeper:
            cfg = self.runtime.config
            self.keeper = HealthKeeper(self.board, providers, cfg.health, cfg.routing.cooldowns)
            self._tasks.append(loop.create_task(self.keeper.run()))
            log.info("health keeper started", keys=len(self.keeper.targets))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.flush()
        await self.store.close()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            await self.flush()

    async def flush(self) -> None:
        self._log_events()
        records = self.board.take_dirty()
        if not records:
            return
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
        report = health_report(self.board, self.router, self.keeper)
        for section, part in self.sections.items():  # e.g. the MCP servers (docs/mcp.md)
            report[section] = part()
        await send_bytes(send, 200, [JSON], orjson.dumps(report))

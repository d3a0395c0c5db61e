"""The background task that keeps this process's routing state in step with the other replicas.

Every ``shared.sync_interval`` it applies the records other replicas (or the keeper)
published since the last look, publishes this process's sticky pins and adopts theirs; about
once a second it also merges latency averages and reads who holds the keeper's lease. The
health service publishes this process's own transitions as it flushes them (:meth:`publish`).

Conflicts are settled by time: each record is stamped with the wall-clock time of the
transition it carries, and applies only if it is newer (``at``) than the last one seen for
that target; never over a local transition not published yet, nor during a half-open trial
here (applying would clear the trial and let a second one start): such a record is looked at
again on the next read, after this process published its own. Breaker
*counts* (failures in a row, the window) stay per process; what is shared is each target's
state, which is what routing reads.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from turnout.health.breaker import Breaker
from turnout.health.targets import DeploymentHealth
from turnout.observability.logging import get_logger
from turnout.shared.pins import PinClaims
from turnout.shared.port import LeaseInfo, Pin, Record, StateBackend

if TYPE_CHECKING:
    from turnout.health.board import HealthBoard
    from turnout.routing.strategies.sticky import Sticky
    from turnout.shared.slots import SharedSlots
    from turnout.shared.trials import SharedTrials

log = get_logger("turnout.shared")
KEEPER_LEASE = "keeper"
SLOW_EVERY = 1.0  # seconds between latency merges and lease reads
WARN_EVERY = 30.0  # seconds between two warnings about an unreachable backend


def process_name(role: str) -> str:
    """How this process is named in leases and records: host, pid, role and a nonce (a pid may
    be reused by a restarted process on the same host)."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{uuid.uuid4().hex[:4]}"


def stopping(exc: BaseException) -> None:
    """Re-raise a cancellation that a client library turned into an error of its own (redis-py
    may answer a cancelled command with a connection error): the task must still stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


class StateSync:
    def __init__(
        self,
        board: HealthBoard,
        backend: StateBackend,
        interval: float,
        origin: str,
        timeout: float = 1.0,
    ) -> None:
        self.board = board
        self.backend = backend
        self.interval = interval
        self.origin = origin
        self.seen: dict[tuple[str, str], float] = {}
        self.targets: dict[tuple[str, str], Breaker] = {(t.kind, t.id): t for t in board.targets()}
        self.sticky: dict[str, Sticky] = {}
        self.lease = LeaseInfo(None, None)
        # Leases this process holds while its calls run (installed by the health service).
        self.slots: list[SharedSlots] = []
        self.trials: SharedTrials | None = None
        self.claims: PinClaims | None = PinClaims(backend, timeout) if backend.shared else None
        self.lease_ttl = 15.0
        self._renewed_at = 0.0
        self.renewals = 0  # rounds of slot renewal (for tests)
        self.applied = 0  # records from elsewhere applied here (for tests and the report)
        self._served: dict[str, int] = {}
        self._slow_at = 0.0
        self._warned_at = -WARN_EVERY

    def use(self, board: HealthBoard, plans: Mapping[str, Any]) -> None:
        """A config reload swapped the board and the router (turnout.live): share theirs.
        The carried targets are the same objects, so what was seen of them still holds."""
        self.board = board
        self.targets = {(t.kind, t.id): t for t in board.targets()}
        self.sticky = {}
        self.attach(plans)

    def attach(self, plans: Mapping[str, Any]) -> None:
        """Share the sticky pins of every model whose strategy is ``sticky``, reading through
        to the backend when a client is not known here yet."""
        from turnout.routing.strategies.sticky import Sticky

        for name, plan in plans.items():
            strategy = getattr(plan, "strategy", None)
            if isinstance(strategy, Sticky):
                strategy.share(name, self.claims)
                plan.prefetch = strategy.prefetch_wanted
                self.sticky[name] = strategy

    # -- out -------------------------------------------------------------------------------
    async def publish(self, records: Sequence[Record]) -> None:
        """Publish this process's transitions (the health service's flush), each stamped
        with the time it happened (not when it is published: a flush that comes late must
        not win over a newer verdict from elsewhere)."""
        now = time.time()
        stamped = [{**r, "at": r.get("changed") or now, "origin": self.origin} for r in records]
        for r in stamped:
            self.seen[(str(r["kind"]), str(r["id"]))] = float(r["at"])
        await self.backend.publish(stamped)

    # -- in --------------------------------------------------------------------------------
    def apply(self, records: Iterable[Record]) -> int:
        """Apply what other processes published; returns how many records changed a target."""
        now, wall = time.monotonic(), time.time()
        dirty = self.board.journal.dirty
        applied = 0
        for record in records:
            key = (str(record.get("kind")), str(record.get("id")))
            at = record.get("at")
            if not isinstance(at, (int, float)) or at <= self.seen.get(key, 0.0):
                continue
            target = self.targets.get(key)
            if target is not None and (target in dirty or target.trial):
                # A transition here not published yet, or a trial in flight (applying would
                # clear it and let a second one start): not marked seen, so once this
                # process has published, the next read applies it if it is still newer.
                continue
            self.seen[key] = float(at)
            if target is None or record.get("origin") == self.origin:
                continue
            old = target.state
            latency = target.latency if isinstance(target, DeploymentHealth) else 0.0
            target.restore(record, now, wall)
            if isinstance(target, DeploymentHealth):
                target.latency = latency  # latency is merged on its own (below)
            applied += 1
            if target.state != old:
                log.info(
                    "state from another replica",
                    kind=target.kind,
                    id=target.id,
                    old=old,
                    new=target.state,
                    reason=target.reason,
                    by=record.get("origin"),
                )
        self.applied += applied
        return applied

    async def renew(self) -> None:
        """Keep the leases of calls still running: trials every tick (a finished one is cut
        to its settle time at once), concurrency slots every third of their lease."""
        if self.trials is not None and self.trials.held:
            await self.trials.tend()
        now = time.monotonic()
        if self.slots and now - self._renewed_at >= self.lease_ttl / 3:
            self._renewed_at = now
            for slots in self.slots:
                await slots.renew()
            self.renewals += 1

    async def tick(self) -> None:
        await self.renew()
        records = await self.backend.changes()
        if records:
            self.apply(records)
        pins: list[Pin] = []
        for name, strategy in self.sticky.items():
            pins.extend(replace(p, origin=self.origin) for p in strategy.take_outbox(name))
        if pins:
            await self.backend.publish_pins(pins)
        for pin in await self.backend.new_pins():
            if pin.origin == self.origin:
                continue
            adopter = self.sticky.get(pin.model)
            if adopter is not None:
                adopter.adopt(pin)
        now = time.monotonic()
        if now - self._slow_at >= SLOW_EVERY:
            self._slow_at = now
            await self._latency()
            self.lease = await self.backend.lease(KEEPER_LEASE)

    async def _latency(self) -> None:
        """Publish this process's averages (where it served since the last time), then set each
        deployment's latency to the sample-weighted mean over every live replica."""
        mine: dict[str, tuple[float, int]] = {}
        for dep in self.board.deployments.values():
            served = dep.served - self._served.get(dep.id, 0)
            if served > 0 and dep.latency > 0:
                mine[dep.id] = (dep.latency, served)
                self._served[dep.id] = dep.served
        await self.backend.publish_latency(self.origin, mine)
        for dep_id, samples in (await self.backend.latencies()).items():
            target = self.board.deployments.get(dep_id)
            weight = sum(n for _, n, _ in samples)
            if target is not None and weight > 0:
                target.latency = sum(lat * n for lat, n, _ in samples) / weight

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # an outage of the backend must not stop the gateway
                stopping(exc)
                now = time.monotonic()
                if now - self._warned_at >= WARN_EVERY:
                    self._warned_at = now
                    log.warning("shared state unreachable: routing on local state", error=str(exc))
            await asyncio.sleep(self.interval)

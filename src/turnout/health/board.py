"""The health board: every deployment's and every key's state, built once from a config.

The router, the health keeper and the admin endpoint all read and write the same objects, so
a key the keeper finds revoked is skipped by the very next request. State leaves the process
only through :meth:`HealthBoard.snapshot` (serialisable records, wall-clock times) and comes
back through :meth:`HealthBoard.restore`, which is all a state store needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from turnout.config.compile import DeploymentSpec, Runtime
from turnout.health.breaker import Breaker, BreakerPolicy, Circuit, Journal
from turnout.health.limits import RateWindow
from turnout.health.targets import DeploymentHealth, KeyHealth, KeyPool


def _stricter(current: int | None, new: int | None) -> int | None:
    if current is None:
        return new
    return current if new is None else min(current, new)


class HealthBoard:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.policy = BreakerPolicy.from_config(runtime.config.routing.breaker)
        self.journal = Journal()
        self.pools: dict[tuple[str, str], KeyPool] = {}
        self.deployments: dict[str, DeploymentHealth] = {}
        for route in runtime.routes():
            for spec in route.deployments:
                self.deployment(spec)

    def pool(self, provider: str, model: str) -> KeyPool:
        spec = self.runtime.providers[provider]
        scope = "*" if spec.shared_key_status else model
        pool = self.pools.get((provider, scope))
        if pool is None:
            keys = tuple(
                KeyHealth(provider, scope, i, secret, self.policy, self.journal)
                for i, secret in enumerate(spec.api_keys)
            )
            pool = self.pools[(provider, scope)] = KeyPool(keys)
        return pool

    def deployment(self, spec: DeploymentSpec) -> DeploymentHealth:
        """The health of ``spec``'s upstream deployment; a deployment listed by several models
        is one object, and the strictest of its declared limits applies."""
        health = self.deployments.get(spec.id)
        if health is None:
            health = self.deployments[spec.id] = DeploymentHealth(
                spec.provider,
                spec.model,
                self.pool(spec.provider, spec.model),
                self.policy,
                self.journal,
                max_concurrent=spec.max_concurrent,
                rpm=spec.rpm,
                tpm=spec.tpm,
            )
            return health
        health.max_concurrent = _stricter(health.max_concurrent, spec.max_concurrent)
        for attr, limit in (("rpm", spec.rpm), ("tpm", spec.tpm)):
            window: RateWindow | None = getattr(health, attr)
            if limit is not None and (window is None or limit < window.limit):
                setattr(health, attr, RateWindow(limit))
        return health

    def all_keys(self) -> Iterator[KeyHealth]:
        for pool in self.pools.values():
            yield from pool.keys

    def targets(self) -> Iterator[Breaker]:
        yield from self.deployments.values()
        yield from self.all_keys()

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self, targets: Iterable[Circuit] | None = None) -> list[dict[str, Any]]:
        now, wall = time.monotonic(), time.time()
        return [t.record(now, wall) for t in (self.targets() if targets is None else targets)]

    def take_dirty(self) -> list[dict[str, Any]]:
        """Records of the targets that changed since the last call (for the state store)."""
        dirty = self.journal.dirty
        if not dirty:
            return []
        changed = list(dirty)
        dirty.clear()
        return self.snapshot(changed)

    def restore(self, records: Iterable[dict[str, Any]]) -> int:
        """Apply saved records to the matching targets; unknown ids (a key since removed from
        the config) are ignored. Returns how many were applied."""
        by_id: dict[tuple[str, str], Breaker] = {(t.kind, t.id): t for t in self.targets()}
        now, wall = time.monotonic(), time.time()
        applied = 0
        for record in records:
            target = by_id.get((str(record.get("kind")), str(record.get("id"))))
            if target is not None:
                target.restore(record, now, wall)
                applied += 1
        return applied

"""The health board: every deployment's and every key's state, built once from a config.

The router, the health keeper and the admin endpoint all read and write the same objects, so
a key the keeper finds revoked is skipped by the very next request. State leaves the process
only through :meth:`HealthBoard.snapshot` (serialisable records, wall-clock times) and comes
back through :meth:`HealthBoard.restore`, which is all a state store needs.

A reload builds a new board from the new config with ``previous=`` the serving one: every key
and deployment that is still there keeps its object, so breakers, cooldowns, key states,
latency averages and rate windows carry over (and requests still in flight on the old router
count against the same objects); removed ones are dropped, added ones start fresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from turnout.config.compile import DeploymentSpec, Runtime
from turnout.health.breaker import Breaker, BreakerPolicy, Circuit, Journal
from turnout.health.limits import RateWindow
from turnout.health.targets import DeploymentHealth, KeyHealth, KeyPool
from turnout.health.wildcard import ModelHealths

if TYPE_CHECKING:
    from turnout.shared.trials import SharedTrials


def _same_upstream(old: Runtime, new: Runtime, provider: str) -> bool:
    """Does ``provider`` still name the same upstream (type and URL)? A deployment whose
    provider now points elsewhere is a different upstream: its health starts fresh."""
    a, b = old.providers.get(provider), new.providers.get(provider)
    return a is not None and b is not None and (a.type, a.base_url) == (b.type, b.base_url)


def _stricter(current: int | None, new: int | None) -> int | None:
    if current is None:
        return new
    return current if new is None else min(current, new)


class HealthBoard:
    def __init__(self, runtime: Runtime, previous: HealthBoard | None = None) -> None:
        self.runtime = runtime
        self.policy = BreakerPolicy.from_config(runtime.config.routing.breaker)
        # Carried targets report to the journal they were built with: share it.
        self.journal: Journal = previous.journal if previous is not None else Journal()
        self.pools: dict[tuple[str, str], KeyPool] = {}
        # Half-open trials shared by replicas (turnout.shared.trials); None: this process's.
        self.trials: SharedTrials | None = previous.trials if previous is not None else None
        self.deployments: dict[str, DeploymentHealth] = {}
        # Per-model records of each model: "*" deployment, by its id (health/wildcard.py).
        # Not carried over a reload: keys or limits may have changed; they start afresh.
        self.wildcards: dict[str, ModelHealths] = {}
        self.wildcard_bound = runtime.config.routing.wildcard_models
        self._old_keys: dict[str, KeyHealth] = {}
        self._old_deployments: dict[str, DeploymentHealth] = {}
        if previous is not None:
            self._old_keys = {k.id: k for k in previous.all_keys()}
            self._old_deployments = {
                d.id: d
                for d in previous.deployments.values()
                if _same_upstream(previous.runtime, runtime, d.provider)
            }
        for route in runtime.routes():
            for spec in route.deployments:
                self.deployment(spec)
        self._old_keys, self._old_deployments = {}, {}

    def pool(self, provider: str, model: str) -> KeyPool:
        spec = self.runtime.providers[provider]
        scope = "*" if spec.shared_key_status else model
        pool = self.pools.get((provider, scope))
        if pool is None:
            keys = tuple(
                self._key(provider, scope, i, secret) for i, secret in enumerate(spec.api_keys)
            )
            pool = self.pools[(provider, scope)] = KeyPool(keys)
        return pool

    def _key(self, provider: str, scope: str, index: int, secret: str) -> KeyHealth:
        key = KeyHealth(provider, scope, index, secret, self.policy, self.journal)
        old = self._old_keys.get(key.id)
        if old is None or old.secret != secret:
            return key
        old.index = index
        old.policy = self.policy
        return old

    def deployment(self, spec: DeploymentSpec) -> DeploymentHealth:
        """The health of ``spec``'s upstream deployment; a deployment listed by several models
        is one object, and the strictest of its declared limits applies."""
        health = self.deployments.get(spec.id)
        if health is None and (old := self._old_deployments.get(spec.id)) is not None:
            return self._carry(old, spec)
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
            self._wildcard(health)
            return health
        health.max_concurrent = _stricter(health.max_concurrent, spec.max_concurrent)
        for attr, limit in (("rpm", spec.rpm), ("tpm", spec.tpm)):
            window: RateWindow | None = getattr(health, attr)
            if limit is not None and (window is None or limit < window.limit):
                setattr(health, attr, RateWindow(limit))
        return health

    def _wildcard(self, health: DeploymentHealth) -> None:
        if health.model == "*":
            self.wildcards[health.id] = ModelHealths(
                health,
                self.wildcard_bound,
                self.journal,
                lambda model: self._model_pool(health, model),
            )

    def model_health(self, health: DeploymentHealth, model: str) -> DeploymentHealth:
        """The record of ``model`` on wildcard deployment ``health`` (``health`` itself when
        it is not a wildcard)."""
        table = self.wildcards.get(health.id)
        return health if table is None else table.get(model)

    def _model_pool(self, health: DeploymentHealth, model: str) -> KeyPool:
        """The keys a wildcard deployment's ``model`` is sent with: the provider's keys with a
        state for that model alone (a 429 or 403 for one model must not stop the others),
        unless the provider keeps one state per key (``shared_key_status``) or its keys are
        OAuth accounts (which join, leave and refresh in the provider's own pools)."""
        provider = health.provider
        spec = self.runtime.providers[provider]
        config = self.runtime.config.providers.get(provider)
        if spec.shared_key_status or (config is not None and config.auth == "oauth"):
            return health.pool
        pool = self.pools.get((provider, model))  # a deployment of that very model: its state
        if pool is not None:
            return pool
        journal = self.wildcards[health.id].journal
        return KeyPool(
            tuple(
                KeyHealth(provider, model, i, secret, self.policy, journal)
                for i, secret in enumerate(spec.api_keys)
            )
            or health.pool.keys
        )

    def _carry(self, health: DeploymentHealth, spec: DeploymentSpec) -> DeploymentHealth:
        """A deployment kept by a reload: its breaker, latency and in-flight count stay; its
        key pool and limits are the new config's (a rate window whose limit is unchanged
        keeps its count)."""
        self.deployments[spec.id] = health
        self._wildcard(health)
        health.pool = self.pool(spec.provider, spec.model)
        health.policy = self.policy
        health.max_concurrent = spec.max_concurrent
        for attr, limit in (("rpm", spec.rpm), ("tpm", spec.tpm)):
            window: RateWindow | None = getattr(health, attr)
            if not limit:
                setattr(health, attr, None)
            elif window is None or window.limit != limit:
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

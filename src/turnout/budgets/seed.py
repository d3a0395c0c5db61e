"""The spend of each budget in the limiter, seeded from the request log.

The limiter counts spend per (scope, period start) as calls settle, but the spend already
made this period lives in the request log: a budget seen for the first time (a new key, a new
period, a new process) or lost (a flushed Redis) is seeded from it before it is trusted. The
auth service's upkeep loop decides when (:meth:`BudgetSeeds.unseeded`); this module knows what.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from turnout.auth.principal import slot_tag_of
from turnout.budgets.periods import period_end, period_start
from turnout.limits.kind import is_redis
from turnout.limits.memory import MemoryLimiter
from turnout.observability.logging import get_logger

if TYPE_CHECKING:
    from turnout.auth.directory import Directory
    from turnout.auth.store import KeyStore
    from turnout.limits.redis import RedisLimiter

log = get_logger("turnout.auth")


class BudgetSeeds:
    """Which budgets the limiter holds this period's spend of, and how to load the others."""

    def __init__(self, limiter: MemoryLimiter | RedisLimiter, directory: Directory) -> None:
        self.limiter = limiter
        self.directory = directory
        self.seeded: set[tuple[str, int]] = set()

    def unseeded(self) -> bool:
        now = time.time()
        return any(
            (scope, period_start(period, now)) not in self.seeded
            for scope, _, _, period in self.directory.budget_scopes()
        )

    async def seed(self, store: KeyStore) -> int:
        """Load the current period's spend of every budget from the request log into the
        limiter (only what it has not seen; everything again if Redis lost its data)."""
        limiter = self.limiter
        if is_redis(limiter) and self.seeded and not await limiter.seeded():
            log.warning("limits redis lost its budget counters: seeding again from the request log")
            self.seeded.clear()
        now = time.time()
        todo: dict[str, list[tuple[str, str, str]]] = {}
        for scope, kind, ident, period in self.directory.budget_scopes():
            start = period_start(period, now)
            if (scope, start) not in self.seeded:
                todo.setdefault(period, []).append((scope, kind, ident))
        values: list[tuple[str, int, int, float]] = []
        for period, scopes in todo.items():
            start = period_start(period, now)
            keys = [ident for _, kind, ident in scopes if kind == "key"]
            teams = [ident for _, kind, ident in scopes if kind == "team"]
            since = datetime.fromtimestamp(start, UTC)
            by_key, by_team = await store.spend(since, keys, teams)
            for scope, kind, ident in scopes:
                usd = (by_key if kind == "key" else by_team).get(ident, 0.0)
                values.append((scope, start, period_end(period, start), usd))
        if values:
            if is_redis(limiter):
                limiter.tags = {v[0]: self._slot(v[0]) for v in values}
            await limiter.seed(values)
            if is_redis(limiter):
                await limiter.mark_seeded()
            self.seeded.update((scope, start) for scope, start, _, _ in values)
        return len(values)

    def _slot(self, scope: str) -> str:
        """The Redis hash tag a budget scope's counters live under (a key's team's)."""
        if scope.startswith("k:"):
            key = self.directory.keys.get(scope[2:])
            if key is not None:
                return slot_tag_of(key)
        return scope

    async def spend(self, scope: str, period: str) -> dict[str, Any]:
        """A budget's current period as the admin API shows it."""
        start = period_start(period, time.time())
        if is_redis(self.limiter):
            self.limiter.tags[scope] = self._slot(scope)
        spent, reserved = await self.limiter.usage(scope, start)
        return {
            "period_start": datetime.fromtimestamp(start, UTC).isoformat(),
            "period_end": datetime.fromtimestamp(period_end(period, start), UTC).isoformat(),
            "spent": round(spent, 6),
            "reserved": round(reserved, 6),
        }

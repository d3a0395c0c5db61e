"""The budgets' side of the Redis limiter: their spend in Redis, seeded from the request log,
read for the admin API, made good after an outage (what was spent locally) and after a loss
(a flushed or replaced Redis). A mixin of :class:`~turnout.limits.redis.RedisLimiter`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from turnout.budgets.periods import period_end
from turnout.limits.rediskeys import Compiled, budget_keys
from turnout.limits.scripts import SEED
from turnout.observability.logging import get_logger
from turnout.redisconn import FAILURES

if TYPE_CHECKING:
    from turnout.limits.arrears import Arrears
    from turnout.limits.memory import MemoryLimiter
    from turnout.limits.plan import Ticket
    from turnout.redisconn import AutoPipeline, Ready

log = get_logger("turnout.limits")
_KEEP = 7 * 86400 * 1000  # ms a period's spend outlives the period


class SharedSpend:
    prefix: str
    tags: dict[str, str]
    shared: dict[str, float]
    local: MemoryLimiter
    arrears: Arrears
    client: Any
    pipe: AutoPipeline
    ready: Ready
    _shas: dict[str, str]

    if TYPE_CHECKING:

        @property
        def available(self) -> bool: ...
        def _spawn(self, coro: Any) -> None: ...
        def _trip(self, exc: BaseException) -> None: ...
        async def _pay(self) -> None: ...

    def _lost(self, compiled: Compiled, index: int, period: str, start: int, spent: float) -> None:
        """A budget's spend in Redis never goes down within its period; lower than this
        process has seen, Redis lost it (flushed, restarted empty, failed over without it).
        Put back what was seen at once, instead of every replica admitting calls from zero
        until the next seeding from the request log (up to a quarter of a minute)."""
        key = f"{compiled.budget_keys[index][0]}{start}"
        seen = self.shared.get(key)
        if seen is not None and spent < seen - 1e-9:
            log.warning("limits redis lost a budget's spend: putting back the last seen")
            self._spawn(self._restore(key, seen, period_end(period, start) * 1000 + _KEEP))
        elif seen is None or spent > seen:
            if len(self.shared) >= 100_000:
                self.shared.clear()
            self.shared[key] = spent

    async def _restore(self, key: str, usd: float, expires: int) -> None:
        try:
            await self.ready()
            await self.pipe.evalsha(SEED, self._shas[SEED], [key], [repr(usd), expires])
        except FAILURES as exc:
            self._trip(exc)

    def _owe(self, ticket: Ticket, cost: float) -> None:
        """Spend Redis has not counted (admitted locally during an outage, or a settlement
        that failed): added to the shared spend once Redis answers."""
        plan = ticket.plan
        if cost <= 0 or not plan.budgets or not ticket.periods:
            return
        compiled: Compiled | None = plan.memo.get(self)
        if compiled is None:
            compiled = plan.memo[self] = Compiled(plan, self.prefix)
        for (spend, _, _), budget, start in zip(
            compiled.budget_keys, plan.budgets, ticket.periods, strict=True
        ):
            expires = period_end(budget.period, start) * 1000 + _KEEP
            self.arrears.owe(f"{spend}{start}", cost, expires)
        if self.available:
            self._spawn(self._pay())

    def _spend_key(self, scope: str, start: int, tag: str | None) -> tuple[str, str]:
        spend, held, _ = budget_keys(self.prefix, "{" + (tag or scope) + "}", scope)
        return f"{spend}{start}", held

    async def seed(self, values: Sequence[tuple[str, int, int, float]]) -> None:
        """Spend per (scope, period start, period end, USD); the scope's hash tag is the scope
        itself unless :meth:`tags` says otherwise (a key budget lives on its team's slot)."""
        await self.local.seed(values)
        if not values:
            return
        await self.ready()
        await asyncio.gather(
            *(
                self.pipe.evalsha(
                    SEED,
                    self._shas[SEED],
                    [self._spend_key(scope, start, self.tags.get(scope))[0]],
                    [repr(usd), end * 1000 + _KEEP],
                )
                for scope, start, end, usd in values
            )
        )

    async def seeded(self) -> bool:
        """Whether this Redis still holds the spend seeded from the request log (a flushed or
        replaced Redis does not, and is seeded again)."""
        await self.ready()
        return bool(await self.client.exists(f"{self.prefix}seeded"))

    async def mark_seeded(self) -> None:
        await self.client.set(f"{self.prefix}seeded", "1")

    async def usage(self, scope: str, start: int) -> tuple[float, float]:
        await self.ready()
        spend_key, held_key = self._spend_key(scope, start, self.tags.get(scope))
        spent_raw = await self.client.get(spend_key)
        held_raw = await self.client.hget(held_key, "_sum")
        spent = float(spent_raw) if spent_raw else 0.0
        return spent, max(0.0, float(held_raw)) if held_raw else 0.0

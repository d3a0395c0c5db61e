"""The limiter on Redis: one atomic script round trip per call, shared by every replica.

When Redis cannot be reached (or does not answer within ``redis_timeout``), the gateway's
circuit breaker (:class:`~turnout.health.breaker.Circuit`) opens: the limiter follows
``limits.on_redis_error`` for ``redis_retry_after`` seconds without touching the network, then
lets one call try again and recovers by itself:

- ``allow`` (default): calls are counted by this process's own :class:`MemoryLimiter`, so each
  replica enforces every limit on its own (N replicas may admit up to N times a limit, never
  an unlimited number); budgets continue from the last spend Redis reported.
- ``deny``: calls are refused with 503 and ``Retry-After``.

The outage and the recovery are each logged once. Settlements (tokens and cost after a call)
go in batches, pipelined; a slot is freed as soon as its call ends, without waiting for the
answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from turnout.budgets.periods import period_end
from turnout.health.breaker import ACTIVE, BreakerPolicy, Circuit
from turnout.limits.memory import MemoryLimiter
from turnout.limits.plan import Plan, Ticket, Verdict
from turnout.limits.resp import Connection, RedisError, Unavailable, bulk
from turnout.limits.scripts import ADMIT, SEED, SETTLE, sha
from turnout.limits.window import SPAN
from turnout.observability.logging import get_logger

log = get_logger("turnout.limits")
_KEEP = 7 * 86400 * 1000  # ms a period's spend outlives the period
UNAVAILABLE = "unavailable"
_ZERO, _ONE, _B = bulk(b"0"), bulk(b"1"), bulk(b"b")


class _Compiled:
    """A plan's Redis keys and its ``EVALSHA`` command, encoded once per plan (and budget
    period): per call only the ticket, the token estimate and the cost are encoded."""

    __slots__ = ("budget_keys", "checks", "heads", "keys", "settle", "tail")

    def __init__(self, plan: Plan, prefix: str) -> None:
        self.keys: list[str] = []
        # (kind, key index, limit, rule) per check; budget key names depend on the period.
        self.checks: list[tuple[str, int, Any]] = []
        self.settle: list[tuple[str, int]] = []
        for rule in plan.rules:
            if rule.rpm is not None:
                self.checks.append(("r", self._key(f"{prefix}r:{rule.scope}"), rule.rpm))
            if rule.tpm is not None:
                index = self._key(f"{prefix}t:{rule.scope}")
                self.checks.append(("t", index, rule.tpm))
                self.settle.append(("t", index))
            if rule.parallel is not None:
                index = self._key(f"{prefix}p:{rule.scope}")
                self.checks.append(("p", index, rule.parallel))
                self.settle.append(("p", index))
        self.budget_keys = [
            (f"{prefix}b:{b.scope}:", f"{prefix}h:{b.scope}", f"{prefix}z:{b.scope}")
            for b in plan.budgets
        ]
        self.heads: dict[tuple[int, ...], bytes] = {}
        # Check arguments: static bytes, and whether the amount is the token estimate.
        self.tail: list[tuple[bytes, bool]] = [
            (b"".join(bulk(str(x).encode()) for x in (kind, index, limit)), kind == "t")
            for kind, index, limit in self.checks
        ]

    def _key(self, name: str) -> int:
        self.keys.append(name)
        return len(self.keys)

    def all_keys(self, periods: tuple[int, ...]) -> list[str]:
        keys = list(self.keys)
        for (spend, held, leases), start in zip(self.budget_keys, periods, strict=True):
            keys += (f"{spend}{start}", held, leases)
        return keys

    def head(self, periods: tuple[int, ...], sha: str) -> bytes:
        """``*N``, EVALSHA, the script, the keys: the same for every call in a period."""
        head = self.heads.get(periods)
        if head is None:
            if len(self.heads) > 4:
                self.heads.clear()
            keys = self.all_keys(periods)
            count = 3 + len(keys) + 3 + 4 * (len(self.checks) + len(periods))
            parts = [b"*%d\r\n" % count, bulk(b"EVALSHA"), bulk(sha.encode())]
            parts += [bulk(b"%d" % len(keys)), *(bulk(k.encode()) for k in keys)]
            head = self.heads[periods] = b"".join(parts)
        return head


class RedisLimiter:
    sync = False
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout: float = 0.1,
        retry_after: float = 1.0,
        on_error: str = "allow",
        lease: float = 900.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.conn = Connection(url, timeout)
        self.prefix = prefix
        self.retry_after = retry_after
        self.deny = on_error == "deny"
        self.lease_ms = int(lease * 1000)
        # None: Redis's own clock (production); tests pass one to move time by hand.
        self.clock = clock
        self.local = MemoryLimiter(lease=lease, clock=clock or time.time)
        # Opens on the first failure, for retry_after each time (no growing backoff).
        policy = BreakerPolicy(cooldown=retry_after, max_cooldown=retry_after)
        self.circuit = Circuit("limits-redis", policy)
        self.outages = 0
        self._shas = {ADMIT: sha(ADMIT), SETTLE: sha(SETTLE), SEED: sha(SEED)}
        self._lease = bulk(b"%d" % self.lease_ms)
        self._unreleased: list[tuple[str, str]] = []  # slots to free once Redis is back

    # -- availability -----------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.circuit.until <= time.monotonic()

    def _trip(self, exc: BaseException) -> None:
        circuit = self.circuit
        if circuit.state == ACTIVE:
            self.outages += 1
            log.warning(
                "limits redis unavailable",
                policy="deny (503)" if self.deny else "allow (local limiter per process)",
                error=str(exc)[:200],
            )
        circuit.eject(time.monotonic(), "unavailable")

    def _recovered(self) -> None:
        self.circuit.reset(time.monotonic())  # any answer proves Redis is back
        log.info("limits redis reachable again")

    # -- the hot path -----------------------------------------------------------------------
    async def admit(self, ticket: Ticket) -> Verdict:
        circuit = self.circuit
        if circuit.state != ACTIVE and not circuit.usable(time.monotonic()):
            return self._fallback(ticket)  # closed: one comparison, no clock read
        plan = ticket.plan
        compiled: _Compiled | None = plan.memo.get(self)
        if compiled is None:
            compiled = plan.memo[self] = _Compiled(plan, self.prefix)
        periods = ticket.periods
        now = _ZERO if self.clock is None else bulk(b"%d" % int(self.clock() * 1000))
        parts = [compiled.head(periods, self._shas[ADMIT]), now, bulk(ticket.token.encode())]
        parts.append(self._lease)
        estimate = bulk(b"%d" % ticket.tokens)
        for static, tokens in compiled.tail:
            parts += (static, estimate if tokens else _ONE)
        if periods:
            cost = bulk(repr(ticket.cost).encode())
            index = len(compiled.keys) + 1
            for budget in plan.budgets:
                parts += (_B, bulk(b"%d" % index), bulk(repr(budget.amount).encode()), cost)
                index += 3
        circuit.begin()  # after the open circuit's wait: this call is its trial
        try:
            reply = await self.conn.send(b"".join(parts))
            if isinstance(reply, RedisError):
                if not str(reply).startswith("NOSCRIPT"):
                    raise Unavailable(f"limits script failed: {reply}")
                await self.conn.call("SCRIPT", "LOAD", ADMIT)
                reply = await self.conn.send(b"".join(parts))
                if isinstance(reply, RedisError):
                    raise Unavailable(f"limits script failed: {reply}")
        except Unavailable as exc:
            self._trip(exc)
            return self._fallback(ticket)
        except BaseException:  # cancelled: no verdict on Redis
            circuit.abandon()
            raise
        if circuit.state != ACTIVE:
            self._recovered()
        ticket.local = False
        return self._verdict(ticket, compiled, reply)

    def _verdict(self, ticket: Ticket, compiled: _Compiled, reply: list[Any]) -> Verdict:
        plan = ticket.plan
        checks = compiled.checks
        if reply[0] == 0:
            index = int(reply[1]) - 1
            wait = int(reply[2]) / 1000
            if index < len(checks):
                kind = checks[index][0]
                what = {"r": "requests", "t": "tokens", "p": "parallel"}[kind]
                return Verdict(False, self._rule(plan, kind, index, checks), what, wait)
            budget = plan.budgets[index - len(checks)]
            start = ticket.periods[index - len(checks)]
            self._remember(budget.scope, start, float(reply[3]))
            now = time.time() if self.clock is None else self.clock()
            wait = max(1.0, period_end(budget.period, start) - now)
            return Verdict(False, budget, "budget", wait)
        ticket.second = int(reply[1])
        values = reply[2:]
        for i, budget in enumerate(plan.budgets):
            self._remember(budget.scope, ticket.periods[i], float(values[len(checks) + i]))
        if not plan.rated:
            return Verdict(True)
        lim_r = rem_r = lim_t = rem_t = None
        for (kind, _, limit), left in zip(checks, values, strict=False):
            if kind == "r" and (rem_r is None or left < rem_r):
                lim_r, rem_r = limit, int(left)
            elif kind == "t" and (rem_t is None or left < rem_t):
                lim_t, rem_t = limit, max(0, int(left))
        now = time.time() if self.clock is None else self.clock()
        reset = max(0.0, ticket.second + SPAN + 1 - now)
        return Verdict(
            True,
            limit_requests=lim_r,
            remaining_requests=rem_r,
            reset_requests=reset if lim_r is not None else None,
            limit_tokens=lim_t,
            remaining_tokens=rem_t,
            reset_tokens=reset if lim_t is not None else None,
        )

    @staticmethod
    def _rule(plan: Plan, kind: str, index: int, checks: list[tuple[str, int, Any]]) -> Any:
        # The n-th check belongs to the rule that produced it, in rule order.
        seen = 0
        for rule in plan.rules:
            for present in (rule.rpm, rule.tpm, rule.parallel):
                if present is None:
                    continue
                if seen == index:
                    return rule
                seen += 1
        return plan.rules[0]

    def _remember(self, scope: str, start: int, spent: float) -> None:
        """Keep the latest shared spend, so a fallback during an outage starts from it."""
        key = (scope, start)
        if self.local.spent.get(key, 0.0) < spent:
            self.local.spent[key] = spent

    def _fallback(self, ticket: Ticket) -> Verdict:
        if self.deny:
            return Verdict(False, None, UNAVAILABLE, self.retry_after)
        return self.local.admit_now(ticket)

    def finish(self, ticket: Ticket) -> None:
        if ticket.finished:
            return
        if ticket.local:
            self.local.finish(ticket)
            return
        ticket.finished = True
        if ticket.plan.parallel:
            # Free the slot now without waiting for the answer. Not connected: at the next
            # sweep; the slot's lease frees it if everything else is lost.
            compiled: _Compiled = ticket.plan.memo[self]
            for kind, index in compiled.settle:
                if kind == "p":
                    self._release(compiled.keys[index - 1], ticket.token)

    def _release(self, key: str, token: str) -> None:
        if self.conn.connected:
            self.conn.fire("ZREM", key, token)
        elif len(self._unreleased) < 100_000:
            self._unreleased.append((key, token))

    # -- off the hot path -------------------------------------------------------------------
    async def settle(self, items: Sequence[tuple[Ticket, int, float]]) -> None:
        commands: list[tuple[Any, ...]] = []
        for ticket, tokens, cost in items:
            if ticket.settled:
                continue
            if ticket.local:
                self.local.settle_now(ticket, tokens, cost)
                continue
            ticket.settled = True
            command = self._settle_command(ticket, tokens, cost)
            if command is not None:
                commands.append(command)
        if not commands:
            return
        try:
            replies = await self.conn.many(commands)
        except Unavailable as exc:
            self._trip(exc)
            return
        if any(isinstance(r, RedisError) and str(r).startswith("NOSCRIPT") for r in replies):
            await self.conn.call("SCRIPT", "LOAD", SETTLE)
            await self.conn.many(commands)

    def _settle_command(self, ticket: Ticket, tokens: int, cost: float) -> tuple[Any, ...] | None:
        plan = ticket.plan
        compiled: _Compiled | None = plan.memo.get(self)
        if compiled is None:
            return None
        keys = compiled.all_keys(ticket.periods)
        args: list[Any] = [ticket.token]
        delta = tokens - ticket.tokens
        for kind, index in compiled.settle:
            if kind == "t":
                args += ("t", index, delta, ticket.second)
            else:
                args += ("p", index, 0, 0)
        index = len(compiled.keys) + 1
        for budget, start in zip(plan.budgets, ticket.periods, strict=True):
            expires = period_end(budget.period, start) * 1000 + _KEEP
            args += ("b", index, repr(cost), expires)
            index += 3
        if len(args) == 1:
            return None
        return ("EVALSHA", self._shas[SETTLE], len(keys), *keys, *args)

    async def seed(self, values: Sequence[tuple[str, int, int, float]]) -> None:
        await self.local.seed(values)
        commands = [
            (
                "EVALSHA",
                self._shas[SEED],
                1,
                f"{self.prefix}b:{scope}:{start}",
                repr(usd),
                end * 1000 + _KEEP,
            )
            for scope, start, end, usd in values
        ]
        if not commands:
            return
        await self.conn.call("SCRIPT", "LOAD", SEED)
        await self.conn.many(commands)

    async def seeded(self) -> bool:
        """Whether this Redis still holds the spend seeded from the request log (a flushed or
        replaced Redis does not, and is seeded again)."""
        return bool(await self.conn.call("EXISTS", f"{self.prefix}seeded"))

    async def mark_seeded(self) -> None:
        await self.conn.call("SET", f"{self.prefix}seeded", "1")

    async def usage(self, scope: str, start: int) -> tuple[float, float]:
        replies = await self.conn.many(
            [
                ("GET", f"{self.prefix}b:{scope}:{start}"),
                ("HGET", f"{self.prefix}h:{scope}", "_sum"),
            ]
        )
        spent = float(replies[0]) if replies[0] else 0.0
        return spent, max(0.0, float(replies[1])) if replies[1] else 0.0

    async def load_scripts(self) -> None:
        for source in (ADMIT, SETTLE, SEED):
            await self.conn.call("SCRIPT", "LOAD", source)

    def sweep(self) -> None:
        self.local.sweep()
        if self._unreleased and self.conn.connected:
            pending, self._unreleased = self._unreleased, []
            for key, token in pending:
                self.conn.fire("ZREM", key, token)

    async def close(self) -> None:
        await self.conn.close()

"""The limiter on Redis: one atomic script round trip per call, shared by every replica.

When Redis cannot be reached (or does not answer within ``redis_timeout``), the gateway's
circuit breaker (:class:`~turnout.health.breaker.Circuit`) opens: the limiter follows
``limits.on_redis_error`` for ``redis_retry_after`` seconds without touching the network, then
lets one call try again and recovers by itself:

- ``allow`` (default): calls are counted by this process's own :class:`MemoryLimiter`, so each
  replica enforces every limit on its own (N replicas may admit up to N times a limit, never
  an unlimited number); budgets continue from the last spend Redis reported, and what is
  spent meanwhile is added to Redis's once it answers again.
- ``deny``: calls are refused with 503 and ``Retry-After``.

The outage and the recovery are each logged once. Settlements (tokens and cost after a call)
go in batches, pipelined; a slot is freed as soon as its call ends, without waiting for the
answer.

Redis is reached through redis-py (:mod:`turnout.redisconn`: one server, Sentinel or Cluster,
TLS, ACL users). Every key one call's script touches carries the same hash tag — the caller's
team, or its key when it has none (``Rule.tag``) — so on a Cluster each script runs on one
slot, and the limits of different teams spread over the nodes. The keys and the arguments
of a plan's scripts are laid out in :mod:`turnout.limits.rediskeys`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from turnout.budgets.periods import period_end
from turnout.health.breaker import ACTIVE, BreakerPolicy, Circuit
from turnout.limits.arrears import Arrears
from turnout.limits.kind import LEASE
from turnout.limits.memory import MemoryLimiter
from turnout.limits.plan import HELD_WAIT, Ticket, Verdict
from turnout.limits.rediskeys import Compiled
from turnout.limits.redisspend import _KEEP, SharedSpend
from turnout.limits.scripts import ADMIT, RENEW, SEED, SETTLE, sha
from turnout.limits.window import SPAN
from turnout.observability.logging import get_logger
from turnout.redisconn import FAILURES, AutoPipeline, Ready, connect

log = get_logger("turnout.limits")
UNAVAILABLE = "unavailable"
_FAILURES = FAILURES


class RedisLimiter(SharedSpend):
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
        lease: float = LEASE,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = connect(url, timeout=timeout)
        self.ready = Ready(self.client)
        self.prefix = prefix
        self.retry_after = retry_after
        self.deny = on_error == "deny"
        self.lease_ms = int(lease * 1000)
        # None: Redis's own clock (production); tests pass one to move time by hand.
        self.clock = clock
        self.monotonic = monotonic  # the circuit's clock (tests move it by hand too)
        self.local = MemoryLimiter(lease=lease, clock=clock or time.time)
        # Opens on the first failure, for retry_after each time (no growing backoff).
        policy = BreakerPolicy(cooldown=retry_after, max_cooldown=retry_after)
        self.circuit = Circuit("limits-redis", policy)
        self.outages = 0
        # Calls to Redis that failed or timed out (each opens the circuit): during an outage
        # one per redis_retry_after, not one per request (/metrics, tests count them).
        self.failures = 0
        # scope -> hash tag, for budgets read or seeded outside a plan (key budgets live on
        # their team's slot); filled by the auth service from the key directory.
        self.tags: dict[str, str] = {}
        self.pipe = AutoPipeline(self.client, self.ready)
        self._shas = {source: sha(source) for source in (ADMIT, SETTLE, SEED, RENEW)}
        # Calls admitted by Redis that hold a slot or a reservation and have not ended: their
        # leases are renewed (:meth:`renew`); those admitted locally are the local limiter's.
        self.live: dict[int, Ticket] = {}
        self._unreleased: list[tuple[str, str]] = []  # slots to free once Redis is back
        self.arrears = Arrears()  # what Redis missed while it did not answer
        self.shared: dict[str, float] = {}  # spend key -> the highest spend Redis reported
        self._tasks: set[asyncio.Task[None]] = set()  # slot releases in flight

    # -- availability -----------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.circuit.until <= self.monotonic()

    def _trip(self, exc: BaseException) -> None:
        self.ready.reset()
        self.failures += 1
        circuit = self.circuit
        if circuit.state == ACTIVE:
            self.outages += 1
            log.warning(
                "limits redis unavailable",
                policy="deny (503)" if self.deny else "allow (local limiter per process)",
                error=str(exc)[:200],
            )
        circuit.eject(self.monotonic(), "unavailable")

    def _recovered(self) -> None:
        self.circuit.reset(self.monotonic())  # any answer proves Redis is back
        log.info("limits redis reachable again")
        if self.arrears:
            self._spawn(self._pay())

    # -- the hot path -----------------------------------------------------------------------
    async def admit(self, ticket: Ticket) -> Verdict:
        circuit = self.circuit
        if circuit.state != ACTIVE and not circuit.usable(self.monotonic()):
            return self._fallback(ticket)  # closed: one comparison, no clock read
        plan = ticket.plan
        compiled: Compiled | None = plan.memo.get(self)
        if compiled is None:
            compiled = plan.memo[self] = Compiled(plan, self.prefix)
        periods = ticket.periods
        now = 0 if self.clock is None else int(self.clock() * 1000)
        args: list[Any] = [now, ticket.token, self.lease_ms]
        estimate = ticket.tokens
        for kind, index, limit, tokens in compiled.tail:
            args += (kind, index, limit, estimate if tokens else 1)
        if periods:
            cost = repr(ticket.cost)
            index = len(compiled.keys) + 1
            for budget in plan.budgets:
                args += ("b", index, repr(budget.amount), cost)
                index += 3
        circuit.begin()  # after the open circuit's wait: this call is its trial
        try:
            reply = await self.pipe.evalsha(
                ADMIT, self._shas[ADMIT], compiled.all_keys(periods), args
            )
        except _FAILURES as exc:
            self._trip(exc)
            self._unknown(ticket, now=False)
            return self._fallback(ticket)
        except BaseException:  # cancelled: no verdict on Redis
            circuit.abandon()
            self._unknown(ticket, now=True)
            raise
        if circuit.state != ACTIVE:
            self._recovered()
        ticket.local = False
        verdict = self._verdict(ticket, compiled, reply)
        if verdict.ok and (plan.parallel or ticket.cost > 0):
            self.live[ticket.seq] = ticket
        return verdict

    def _verdict(self, ticket: Ticket, compiled: Compiled, reply: list[Any]) -> Verdict:
        plan = ticket.plan
        checks = compiled.checks
        if reply[0] == 0:
            index = int(reply[1]) - 1
            wait = int(reply[2]) / 1000
            if index < len(checks):
                kind = checks[index][0]
                what = {"r": "requests", "t": "tokens", "p": "parallel"}[kind]
                return Verdict(False, compiled.rule(plan, index), what, wait)
            budget = plan.budgets[index - len(checks)]
            start = ticket.periods[index - len(checks)]
            self._remember(budget.scope, start, float(reply[3]))
            spent = float(reply[4]) if len(reply) > 4 else float(reply[3])  # reply[3]: + held
            if spent < budget.amount:  # held by calls in flight: free again once they end
                return Verdict(False, budget, "held", HELD_WAIT)
            now = time.time() if self.clock is None else self.clock()
            wait = max(1.0, period_end(budget.period, start) - now)
            return Verdict(False, budget, "budget", wait)
        ticket.second = int(reply[1])
        values = reply[2:]
        for i, budget in enumerate(plan.budgets):
            spent = float(values[len(checks) + i])
            self._remember(budget.scope, ticket.periods[i], spent)
            self._lost(compiled, i, budget.period, ticket.periods[i], spent)
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

    def _unknown(self, ticket: Ticket, *, now: bool) -> None:
        """An admission whose answer never came (timed out, cancelled) may still run in Redis,
        late: take back what it took (:mod:`turnout.limits.arrears`), at once after its batch
        when cancelled, once Redis is back when it failed. Its rate counts stay (a minute)."""
        if not ticket.plan.parallel and not ticket.periods:
            return
        call = self._settle_call(ticket, ticket.tokens, 0.0)
        if call is not None:
            self.arrears.take_back(call)
            if now:
                self._spawn(self._pay())

    async def _pay(self) -> None:
        try:
            await self.arrears.pay(self.pipe, self.ready, SETTLE, self._shas[SETTLE])
        except _FAILURES as exc:  # kept for the next sweep or recovery
            self._trip(exc)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        self.live.pop(ticket.seq, None)
        if ticket.plan.parallel:
            # Free the slot now without waiting for the answer. Not connected: at the next
            # sweep; the slot's lease frees it if everything else is lost.
            compiled: Compiled = ticket.plan.memo[self]
            for kind, index in compiled.settle:
                if kind == "p":
                    self._release(compiled.keys[index - 1], ticket.token)

    def _release(self, key: str, token: str) -> None:
        if not self.available:
            if len(self._unreleased) < 100_000:
                self._unreleased.append((key, token))
            return
        self._spawn(self._zrem(key, token))

    async def _zrem(self, key: str, token: str) -> None:
        try:
            await self.ready()
            await self.client.zrem(key, token)
        except _FAILURES:
            if len(self._unreleased) < 100_000:
                self._unreleased.append((key, token))

    # -- off the hot path -------------------------------------------------------------------
    @property
    def renew_every(self) -> float:
        """Seconds between two renewals: a renewal may be late twice and still be in time."""
        return self.lease_ms / 3000

    async def renew(self) -> None:
        """Renew the leases of every call still running, one script per hash tag (on a
        Cluster each runs on its tag's slot), all in one pipeline: one round trip per
        renewal, whatever the number of calls. A replica that crashed renews nothing, so its
        calls' slots and reservations expire one lease later. During an outage only the
        local limiter's calls are renewed."""
        self.local.renew_now()
        if not self.live or not self.available:
            return
        groups: dict[str, tuple[dict[str, int], list[Any]]] = {}
        for ticket in self.live.values():
            compiled: Compiled | None = ticket.plan.memo.get(self)
            if compiled is None:
                continue
            index, pairs = groups.setdefault(compiled.tag, ({}, []))
            token = ticket.token
            for name in compiled.slots:
                pairs += (index.setdefault(name, len(index) + 1), token)
            if ticket.cost > 0 and not ticket.settled:
                for _spend, held, leases in compiled.budget_keys:
                    index.setdefault(held, len(index) + 1)
                    pairs += (index.setdefault(leases, len(index) + 1), token)
        now = 0 if self.clock is None else int(self.clock() * 1000)
        try:
            await self.ready()
        except _FAILURES as exc:
            self._trip(exc)
            return
        shas = self._shas[RENEW]
        results = await asyncio.gather(
            *(
                self.pipe.evalsha(RENEW, shas, list(index), [now, self.lease_ms, *pairs])
                for index, pairs in groups.values()
            ),
            return_exceptions=True,
        )
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            self._trip(failed)

    async def settle(self, items: Sequence[tuple[Ticket, int, float]]) -> None:
        calls: list[tuple[list[str], list[Any]]] = []
        settled: list[tuple[Ticket, float]] = []
        for ticket, tokens, cost in items:
            if ticket.settled:
                continue
            if ticket.local:
                self.local.settle_now(ticket, tokens, cost)
                self._owe(ticket, cost)  # admitted during an outage: the shared spend too
                continue
            ticket.settled = True
            self.live.pop(ticket.seq, None)
            call = self._settle_call(ticket, tokens, cost)
            if call is not None:
                calls.append(call)
                settled.append((ticket, cost))
        if not calls:
            return
        try:
            await self.ready()
            shas = self._shas[SETTLE]
            results = await asyncio.gather(
                *(self.pipe.evalsha(SETTLE, shas, k, a) for k, a in calls),
                return_exceptions=True,
            )
            failed = next((r for r in results if isinstance(r, BaseException)), None)
            if failed is not None:
                raise failed
        except _FAILURES as exc:
            self._trip(exc)
            for ticket, cost in settled:  # kept for when Redis answers again
                self._unknown(ticket, now=False)
                self._owe(ticket, cost)

    def _settle_call(
        self, ticket: Ticket, tokens: int, cost: float
    ) -> tuple[list[str], list[Any]] | None:
        plan = ticket.plan
        compiled: Compiled | None = plan.memo.get(self)
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
        return keys, args

    async def load_scripts(self) -> None:
        await self.ready()
        for source in (ADMIT, SETTLE, SEED, RENEW):
            await self.client.script_load(source)

    def sweep(self) -> None:
        self.local.sweep()
        if self._unreleased and self.available:
            pending, self._unreleased = self._unreleased, []
            for key, token in pending:
                self._release(key, token)
        if self.arrears and self.available:
            self._spawn(self._pay())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.pipe.close()
        await self.client.aclose()

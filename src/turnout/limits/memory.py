"""The in-process limiter: plain dicts, no locks, no awaits.

Everything between reading a counter and writing it happens without yielding to the event
loop, so a check-then-add is atomic in one process by construction. It is the embedded
default, the Redis backend's fallback while Redis is unreachable, and the reference the Redis
script is tested against (tests/unit/limits). Slots (requests in flight) and budget
reservations carry a lease, so one lost settlement cannot hold them forever; the calls still
running (``live``) have theirs renewed every ``lease / 3`` (:meth:`renew`, by the auth
service's renewal task), so a call longer than the lease keeps what it holds until it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from turnout.budgets.periods import period_end
from turnout.limits.kind import LEASE
from turnout.limits.plan import ADMITTED, HELD_WAIT, Ticket, Verdict
from turnout.limits.window import SPAN, Window

_KEEP_PERIODS = 45 * 86400  # seconds of old period totals kept (admin display only)


class MemoryLimiter:
    sync = True
    name = "memory"

    def __init__(self, *, lease: float = LEASE, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lease = lease
        self.requests: dict[str, Window] = {}
        self.tokens: dict[str, Window] = {}
        self.slots: dict[str, dict[int, float]] = {}  # scope -> ticket seq -> lease end
        self.spent: dict[tuple[str, int], float] = {}  # (scope, period start) -> USD
        self.reserved: dict[str, dict[int, tuple[float, float]]] = {}  # -> seq -> (USD, end)
        self.reserved_total: dict[str, float] = {}
        # Calls holding a slot or a reservation that have not ended: their leases are renewed.
        self.live: dict[int, Ticket] = {}

    async def admit(self, ticket: Ticket) -> Verdict:
        return self.admit_now(ticket)

    def admit_now(self, ticket: Ticket) -> Verdict:
        now = self.clock()
        second = int(now)
        plan = ticket.plan
        rule = plan.single
        if rule is not None:  # one RPM limit: check and count in one step
            rpm: int = rule.rpm  # type: ignore[assignment]  # set on a single rule
            w = self.requests.get(rule.scope)
            if w is None or w.oldest < second - SPAN:
                w = self._window(self.requests, rule.scope, second)
            total = w.total
            if total >= rpm and total > 0:
                return Verdict(False, rule, "requests", w.wait(second, now, 1, rpm))
            ticket.second = second
            counts = w.counts
            counts[second] = counts.get(second, 0) + 1
            w.total = total + 1
            return Verdict(True, None, "", 0.0, rpm, rpm - total - 1, second + SPAN + 1 - now)
        tokens = ticket.tokens
        counted: list[tuple[Window, int]] = []  # windows to add to once every check passed
        lim_r = rem_r = lim_t = rem_t = None
        for rule in plan.rules:
            if (limit := rule.rpm) is not None:
                w = self._window(self.requests, rule.scope, second)
                total = w.total
                if total > 0 and total + 1 > limit:
                    return Verdict(False, rule, "requests", w.wait(second, now, 1, limit))
                counted.append((w, 1))
                if rem_r is None or limit - total - 1 < rem_r:
                    lim_r, rem_r = limit, limit - total - 1
            if (limit := rule.tpm) is not None:
                w = self._window(self.tokens, rule.scope, second)
                total = w.total
                if total > 0 and total + tokens > limit:
                    return Verdict(False, rule, "tokens", w.wait(second, now, tokens, limit))
                counted.append((w, tokens))
                if rem_t is None or limit - total - tokens < rem_t:
                    lim_t, rem_t = limit, limit - total - tokens
            if (limit := rule.parallel) is not None:
                slots = self.slots.get(rule.scope)
                if slots is not None and len(slots) >= limit:
                    _drop_expired(slots, now)
                    if len(slots) >= limit:
                        return Verdict(False, rule, "parallel", 1.0)
        for budget, start in zip(plan.budgets, ticket.periods, strict=True):
            spent = self.spent.get((budget.scope, start), 0.0)
            if spent + self._reserved(budget.scope, now) >= budget.amount:
                if spent < budget.amount:  # held by calls in flight: free again once they end
                    return Verdict(False, budget, "held", HELD_WAIT)
                wait = period_end(budget.period, start) - now
                return Verdict(False, budget, "budget", max(1.0, wait))
        # Every check passed: count the call everywhere at once.
        ticket.second = second
        ticket.local = True
        for w, amount in counted:
            w.add(second, amount)
        if plan.parallel:
            end = now + self.lease
            for rule in plan.rules:
                if rule.parallel is not None:
                    self.slots.setdefault(rule.scope, {})[ticket.seq] = end
        if plan.parallel or ticket.cost > 0:
            self.live[ticket.seq] = ticket
        if ticket.cost > 0:
            held = (ticket.cost, now + self.lease)
            for budget in plan.budgets:
                self.reserved.setdefault(budget.scope, {})[ticket.seq] = held
                self.reserved_total[budget.scope] = (
                    self.reserved_total.get(budget.scope, 0.0) + ticket.cost
                )
        if not plan.rated:
            return ADMITTED
        reset = second + SPAN + 1 - now
        return Verdict(
            True,
            None,
            "",
            0.0,
            lim_r,
            rem_r,
            reset if lim_r is not None else None,
            lim_t,
            rem_t,
            reset if lim_t is not None else None,
        )

    def _window(self, table: dict[str, Window], scope: str, second: int) -> Window:
        w = table.get(scope)
        if w is None:
            w = table[scope] = Window()
            w.oldest = second - SPAN
        else:
            w.expire(second)
        return w

    def _reserved(self, scope: str, now: float) -> float:
        """USD reserved by calls in flight, after dropping expired reservations. All leases
        are equally long, so insertion order is expiry order: only the expired are looked at."""
        total = self.reserved_total.get(scope, 0.0)
        held = self.reserved.get(scope)
        if held:
            while held:
                token = next(iter(held))
                amount, end = held[token]
                if end > now:
                    break
                del held[token]
                total -= amount
            total = self.reserved_total[scope] = max(0.0, total) if held else 0.0
        return total

    def finish(self, ticket: Ticket) -> None:
        """The call is over: free its slots (its tokens and cost wait for the settlement)."""
        if ticket.finished:
            return
        ticket.finished = True
        self.live.pop(ticket.seq, None)
        if ticket.plan.parallel:
            for rule in ticket.plan.rules:
                if rule.parallel is not None:
                    slots = self.slots.get(rule.scope)
                    if slots is not None:
                        slots.pop(ticket.seq, None)

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals: a renewal may be late twice and still be in time."""
        return self.lease / 3

    async def renew(self) -> None:
        self.renew_now()

    def renew_now(self) -> None:
        """Push the lease of every call still running to ``now + lease``: a stream or a call
        longer than the lease keeps its slot and its reservation until it ends (or is
        settled), while those of a call whose end was lost still expire one lease after the
        last renewal. A reservation moved to the end keeps the insertion order the expiry
        order (:meth:`_reserved`): every lease renewed now ends last. One dropped by its
        lease meanwhile (a renewal late by a whole lease) is held again."""
        if not self.live:
            return
        end = self.clock() + self.lease
        for seq, ticket in self.live.items():
            plan = ticket.plan
            for rule in plan.rules:
                if rule.parallel is not None:
                    self.slots.setdefault(rule.scope, {})[seq] = end
            if ticket.cost > 0 and not ticket.settled:
                for budget in plan.budgets:
                    held = self.reserved.setdefault(budget.scope, {})
                    if held.pop(seq, None) is None:
                        total = self.reserved_total.get(budget.scope, 0.0)
                        self.reserved_total[budget.scope] = total + ticket.cost
                    held[seq] = (ticket.cost, end)

    async def settle(self, items: Sequence[tuple[Ticket, int, float]]) -> None:
        for ticket, tokens, cost in items:
            self.settle_now(ticket, tokens, cost)

    def settle_now(self, ticket: Ticket, tokens: int, cost: float) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        self.finish(ticket)
        plan = ticket.plan
        delta = tokens - ticket.tokens
        if delta and plan.tokens:
            for rule in plan.rules:
                if rule.tpm is not None and (w := self.tokens.get(rule.scope)) is not None:
                    w.adjust(ticket.second, delta)
        for budget, start in zip(plan.budgets, ticket.periods, strict=True):
            held = self.reserved.get(budget.scope)
            entry = held.pop(ticket.seq, None) if held else None
            if entry is not None:
                self.reserved_total[budget.scope] -= entry[0]
            if cost:
                key = (budget.scope, start)
                self.spent[key] = self.spent.get(key, 0.0) + cost

    async def seed(self, values: Sequence[tuple[str, int, int, float]]) -> None:
        """Spend already in the request log: (scope, period start, period end, USD). A counter
        never goes down: the log lags the live count by the writer's batch interval."""
        for scope, start, _end, usd in values:
            key = (scope, start)
            self.spent[key] = max(self.spent.get(key, 0.0), usd)

    async def usage(self, scope: str, start: int) -> tuple[float, float]:
        """(spent, reserved) USD of a scope in a period, for the admin API."""
        now = self.clock()
        return self.spent.get((scope, start), 0.0), self._reserved(scope, now)

    def sweep(self) -> None:
        """Forget idle windows, expired leases and old periods (called every few seconds)."""
        now = self.clock()
        second = int(now)
        for table in (self.requests, self.tokens):
            for scope in [s for s, w in table.items() if w.oldest < second - 2 * SPAN]:
                w = table[scope]
                w.expire(second)
                if not w.total:
                    del table[scope]
        for scope, slots in list(self.slots.items()):
            _drop_expired(slots, now)
            if not slots:
                del self.slots[scope]
        for scope in list(self.reserved):
            self._reserved(scope, now)
        for key in [k for k in self.spent if k[1] < now - _KEEP_PERIODS]:
            del self.spent[key]

    async def close(self) -> None:
        return None


def _drop_expired(slots: dict[int, float], now: float) -> None:
    for token in [t for t, end in slots.items() if end <= now]:
        del slots[token]

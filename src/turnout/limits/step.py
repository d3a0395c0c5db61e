"""The limits pipeline step: admit or refuse a call, and free what it holds when it ends.

It runs after authentication (which put the caller's principal on the call) and before the
cache, so a cached answer still counts as a request. A call whose key and team have no limit
and no budget costs one memoised dict lookup here. Tokens and cost are settled later, by the
request log's drain (:mod:`turnout.limits.settle`), where usage has been parsed anyway;
calls of plans without a token limit or budget are final at admission and never settled.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from turnout.budgets.estimate import Estimator
from turnout.budgets.periods import Periods
from turnout.errors import BudgetExceeded, LimitExceeded, LimitsUnavailable, Unmetered
from turnout.limits.headers import duration, rate_headers
from turnout.limits.plan import BudgetRule, Rule, Ticket, Verdict
from turnout.types import Call, Handler, Reply

_WHAT = {
    "requests": "requests per minute",
    "tokens": "tokens per minute",
    "parallel": "requests in flight",
}


class LimitStep:
    def __init__(self, limiter: Any, estimator: Estimator) -> None:
        self.limiter = limiter
        self.estimator = estimator
        self.periods = Periods()

    async def __call__(self, call: Call, next: Handler) -> Reply:
        principal = call.principal
        plan = principal.plan(call.model) if principal is not None else None
        if plan is None:
            return await next(call)
        ticket = Ticket(plan)
        if plan.tokens or plan.budgets:
            if (field := self.estimator.unmetered(call)) is not None:
                raise Unmetered(field)
            inp, out, most = self.estimator.estimate(call)
            # A token limit reserves the most the call may use, as a budget does; settled no
            # lower than the expected tokens when its usage is unknown (limits.settle).
            ticket.tokens = inp + most
            ticket.expected = inp + out
            if plan.budgets:  # reserve the most it may cost; settle no lower than the estimate
                # Refused here (Unpriced) when the model has no price: before the admission,
                # so a refused call counts against no window.
                ticket.cost, ticket.floor = self.estimator.reserve(call, inp, out, most)
                now = time.time()
                start = self.periods.start
                ticket.periods = tuple(start(b.period, now) for b in plan.budgets)
        limiter = self.limiter
        verdict = limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)
        if not verdict.ok:
            raise refusal(verdict)
        if plan.tokens or plan.budgets:  # settled with real usage by the log drain
            call.ticket = ticket
        if not plan.parallel and ticket.cost <= 0:  # nothing held: nothing to free or renew
            reply = await next(call)
            if plan.rated:
                reply.headers.extend(rate_headers(verdict))
            return reply
        if call.data.get("background"):  # may hold its slot until generated (its ticket)
            call.ticket = ticket
        try:
            reply = await next(call)
        except BaseException:
            limiter.finish(ticket)
            raise
        if plan.rated:
            reply.headers.extend(rate_headers(verdict))
        if reply.chunks is not None:
            reply.chunks = _finish_after(reply.chunks, limiter, ticket)
        elif not ticket.held:
            limiter.finish(ticket)
        return reply


async def _finish_after(chunks: AsyncIterator[bytes], limiter: Any, ticket: Ticket) -> Any:
    """A stream holds its slot until its last chunk (or its cancellation), and has its leases
    renewed until then (a reservation waits for the settlement, no longer renewed)."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        limiter.finish(ticket)


def refusal(v: Verdict) -> Exception:
    rule = v.rule
    if v.what == "budget":
        assert isinstance(rule, BudgetRule)
        return BudgetExceeded(
            f"Budget exhausted for {rule.label}: ${rule.amount:g} per {rule.period}. "
            f"It resets in {duration(v.retry_after).decode()}.",
            retry_after=v.retry_after,
        )
    if v.what == "held":
        assert isinstance(rule, BudgetRule)
        return LimitExceeded(
            f"Budget of {rule.label} (${rule.amount:g} per {rule.period}) is reserved by calls "
            f"in flight; retry in {duration(v.retry_after).decode()}.",
            retry_after=v.retry_after,
            extra=[],
        )
    if rule is None:
        return LimitsUnavailable(
            "Rate limits cannot be checked right now (limits backend unavailable); retry shortly.",
            retry_after=v.retry_after,
        )
    assert isinstance(rule, Rule)
    limit = {"requests": rule.rpm, "tokens": rule.tpm, "parallel": rule.parallel}[v.what]
    extra = []
    if v.what in ("requests", "tokens"):
        reset = duration(v.retry_after)
        extra = [
            (f"x-ratelimit-limit-{v.what}".encode(), b"%d" % (limit or 0)),
            (f"x-ratelimit-remaining-{v.what}".encode(), b"0"),
            (f"x-ratelimit-reset-{v.what}".encode(), reset),
        ]
    return LimitExceeded(
        f"Rate limit reached for {rule.label}: {limit} {_WHAT[v.what]}. "
        f"Retry in {duration(v.retry_after).decode()}.",
        retry_after=v.retry_after,
        extra=extra,
    )

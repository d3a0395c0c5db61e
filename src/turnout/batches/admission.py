"""The request limits of the batch routes (Anthropic's Message Batches, OpenAI's Files and
Batches): every HTTP request to them counts once against its key's and its team's ``rpm`` and
holds one of their ``max_parallel`` slots until its answer has been sent (a results or output
relay: until its last byte), as a model call does, with the same 429, ``Retry-After`` and
``x-ratelimit-*`` headers in the client's error shape. A route request uses no tokens and
costs nothing, so it is not counted against ``tpm`` nor budgets (a key whose token window or
budget is spent can still list, retrieve, cancel, delete and read what it holds).

What a batch's models add on top (:func:`model_part`): at creation and at a results read each
model counts once against its ``model_limits`` entry and is checked against the key's and
team's token windows and budgets; the key's and team's own ``rpm`` and ``max_parallel`` are
the request's, counted once here, not once more per model.

Not on the model-call path: only these routes import it.
"""

from __future__ import annotations

from typing import Any

from turnout.auth.principal import MASTER, Principal
from turnout.limits.headers import rate_headers
from turnout.limits.plan import Plan, Rule, Ticket
from turnout.limits.step import refusal
from turnout.types import Headers

_PART = "turnout.batches.model_part"  # the memo slot of a model plan's part (Plan.memo)


def route_plan(principal: Principal | None) -> Plan | None:
    """The key's and team's ``rpm`` and ``max_parallel``; None: nothing to count (no key,
    the master key, a key and team without them)."""
    if principal is None or principal is MASTER or not principal.rules:
        return None
    return principal.request_plan()  # kept on the principal, rebuilt with its key


def model_part(plan: Plan) -> Plan | None:
    """What one model of a batch counts against beyond its request (see the module's
    docstring): the model's ``model_limits`` rule whole, the key's and team's token windows,
    the budgets. Kept with the plan (which the principal keeps per model)."""
    memo = plan.memo
    if _PART in memo:
        part: Plan | None = memo[_PART]
        return part
    rules = tuple(
        r if r.scope.startswith("m:") else Rule(r.scope, r.label, None, r.tpm, None, r.tag)
        for r in plan.rules
        if r.scope.startswith("m:") or r.tpm is not None
    )
    part = Plan(rules, plan.budgets) if rules or plan.budgets else None
    memo[_PART] = part
    return part


async def admit(auth: Any, principal: Principal | None, held: list[Ticket]) -> Headers:
    """Count the request, or raise the gateway's usual 429 (503 while the limits backend is
    down under ``on_redis_error: deny``); the ticket goes in ``held`` before its admission
    is awaited, so a request cancelled meanwhile still frees it (:func:`release`). The
    answer's ``x-ratelimit-*`` headers."""
    if auth is None or not auth.active or not auth.limited:
        return []
    plan = route_plan(principal)
    if plan is None:
        return []
    limiter = auth.limiter
    ticket = Ticket(plan)
    held.append(ticket)
    verdict = limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)
    if not verdict.ok:
        held.remove(ticket)  # refused: counted nowhere, holds nothing
        raise refusal(verdict)
    return rate_headers(verdict) if plan.rated else []


def release(auth: Any, held: list[Ticket]) -> None:
    """The request is over, however it ended: free its slots."""
    while held:
        auth.limiter.finish(held.pop())


__all__ = ["admit", "model_part", "release", "route_plan"]

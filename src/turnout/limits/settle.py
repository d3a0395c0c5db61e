"""Reconcile each admitted call with what it really used, from the request log's drain.

The drain has already parsed every finished call's usage and priced it (for the request log),
so settling here costs the request path nothing. Real tokens replace the token estimate in
the window the call was counted in, and real cost replaces the budget reservation. What a
call used when the gateway cannot tell (a stream the client abandoned before usage arrived):
its expected tokens and cost (the ticket's ``expected`` and ``floor``, below the
reservations, which are the most it may use), or what the part it relayed says when that is
more (usage.base.floor). A call sent upstream that was never answered (timed out, its
connection dropped) counts its prompt (usage.base.billed: the drain logged it so); one
that failed otherwise without usage (an upstream error status, refused before it was sent)
used nothing; a cache hit used no upstream tokens and cost nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from turnout.limits.plan import Ticket
from turnout.observability.logging import get_logger
from turnout.usage.base import cut_short

if TYPE_CHECKING:
    from turnout.observability.finish import Finished

log = get_logger("turnout.limits")


def used(done: Finished, ticket: Ticket) -> tuple[int, float]:
    call = done.call
    if call.cache == "hit":
        return 0, 0.0
    usage = done.usage
    if usage is not None:
        # Unpriced (only under pricing.unpriced: allow, or prices reloaded since it was
        # admitted): its estimate, which is 0 for a model no deployment of has a price.
        cost = done.cost if done.cost is not None else ticket.floor
        tokens = usage.input_tokens + usage.output_tokens
        # Its usage is a floor (usage.base.floor), or only its prompt while it may have run
        # (its client left, its stream failed before a byte): never below the estimate. One
        # the upstream never answered (timed out, dropped) counts its prompt.
        if cut_short(call) or (done.prompt_only and call.status < 500):
            return max(tokens, ticket.expected), max(cost, ticket.floor)
        return tokens, cost
    if call.status >= 400 and call.status != 499:
        return 0, 0.0
    return ticket.expected, ticket.floor


class SettleSink:
    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, finished: list[Finished]) -> None:
        items: list[tuple[Ticket, int, float]] = []
        for done in finished:
            ticket = done.call.ticket
            if ticket is not None and not ticket.settled:
                tokens, cost = used(done, ticket)
                items.append((ticket, tokens, cost))
        if not items:
            return
        if self.limiter.sync:
            for ticket, tokens, cost in items:
                self.limiter.settle_now(ticket, tokens, cost)
            return
        task = asyncio.get_running_loop().create_task(self._settle(items))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, items: list[tuple[Ticket, int, float]]) -> None:
        try:
            await self.limiter.settle(items)
        except Exception as exc:  # reservations then expire with their leases
            log.warning("limits settlement failed", calls=len(items), error=repr(exc)[:200])

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

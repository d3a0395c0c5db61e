"""A batch's limits at creation, its usage when its results are read.

At creation every model of the batch must be allowed to the key, and each model's plan is
admitted once (one request against its request limits; refused while a budget is spent; a
budgeted key is refused a model the gateway cannot price, as on every route). The batch's
cost is not reserved: it is counted when its results are read.

Results are relayed chunk by chunk. Each complete line (a JSON object, at most
:data:`MAX_LINE` bytes held) is read for its ``result.message.usage`` and summed per public
model; when the relay ends, however it ends, one request-log row per model
(``batches.usage``) carries the sums, priced at the batch share of the model's price
(:data:`turnout.pricing.BATCH_SHARE`), and settles the key's budgets on a ticket put through
the limiter before the relay (reading results counts as one request per model; refused or
not, the results are relayed). A batch's results file
does not change once it has ended, so a read counts only the lines past those already counted
(the record's ``accounted``): reading the results again costs nothing more.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from turnout.auth.principal import Principal
from turnout.budgets.periods import Periods
from turnout.errors import PermissionDenied, Unpriced
from turnout.limits.plan import Ticket
from turnout.limits.step import refusal
from turnout.observability.logging import get_logger
from turnout.protocols.anthropic.usage import parse
from turnout.types import Call, Usage

OPERATION = "batches.usage"
MAX_LINE = 16 * 1024 * 1024
log = get_logger("turnout")
_periods = Periods()


async def admit(auth: Any, principal: Principal | None, models: list[str]) -> None:
    """Refuse a batch the key may not make (a model it may not use, a spent budget)."""
    if principal is None:
        return
    for model in models:
        if not principal.allows(model):
            raise PermissionDenied(f"This API key may not use the model '{model}'.")
    for model in models:
        plan = principal.plan(model)
        if plan is None:
            continue
        if plan.budgets:
            estimator = auth.limit_step.estimator
            if not estimator.rates(model)[2] and estimator.refuse:
                raise Unpriced(model)
        ticket = _ticket(plan)
        limiter = auth.limiter
        verdict = limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)
        if not verdict.ok:
            raise refusal(verdict)
        limiter.finish(ticket)


async def tickets(auth: Any, principal: Principal | None, models: list[str]) -> dict[str, Ticket]:
    """Before results are relayed: a ticket per model whose plan counts tokens or spend,
    put through the limiter (so a shared limiter knows it); refused or not, its usage is
    settled on it: results are never withheld, only counted."""
    out: dict[str, Ticket] = {}
    if principal is None or auth is None or not auth.active:
        return out
    limiter = auth.limiter
    for model in models:
        plan = principal.plan(model)
        if plan is None or not (plan.tokens or plan.budgets):
            continue
        ticket = out[model] = _ticket(plan)
        if not (limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)).ok:
            ticket.finished = True  # holds nothing: only its usage is settled
    return out


def _ticket(plan: Any) -> Ticket:
    ticket = Ticket(plan)
    now = time.time()
    ticket.periods = tuple(_periods.start(b.period, now) for b in plan.budgets)
    return ticket


class Tally:
    """What one results read relays and counts."""

    def __init__(self, models: dict[str, str], skip: int) -> None:
        self.models = models  # upstream name -> public name (the record's)
        self.skip = skip  # lines counted by an earlier read
        self.lines = 0
        self.usage: dict[str, Usage] = {}
        self.unread = 0  # lines too long or unparsable: relayed, not counted

    def line(self, raw: bytes) -> None:
        self.lines += 1
        if self.lines <= self.skip or not raw.strip():
            return
        try:
            data = orjson.loads(raw)
            result = data["result"]
            if result.get("type") != "succeeded":
                return
            message = result["message"]
            usage = parse(message.get("usage"))
            model = message.get("model")
        except Exception:  # a hostile or broken line: relayed as it came, not counted
            self.unread += 1
            return
        if usage is None:
            return
        public = self.models.get(model) if isinstance(model, str) else None
        if public is None:
            public = next(iter(self.models.values()))
        total = self.usage.setdefault(public, Usage())
        total.input_tokens += usage.input_tokens
        total.output_tokens += usage.output_tokens
        total.cached_tokens += usage.cached_tokens
        total.reasoning_tokens += usage.reasoning_tokens

    async def relay(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The chunks as they came, their lines counted on the way."""
        held = bytearray()
        skipping = False  # inside a line longer than MAX_LINE
        async for chunk in chunks:
            yield chunk
            held += chunk
            start = 0
            while (end := held.find(b"\n", start)) >= 0:
                if skipping:
                    skipping = False
                    self.lines += 1
                    self.unread += 1
                else:
                    self.line(bytes(held[start:end]))
                start = end + 1
            del held[:start]
            if len(held) > MAX_LINE:
                held.clear()
                skipping = True
        if held and not skipping:
            self.line(bytes(held))


def rows(
    tally: Tally,
    call: Call,
    provider: str,
    tickets: dict[str, Ticket],
    auth: Any,
    request_log: Any,
) -> None:
    """One request-log row per model with usage (their tickets settle the budgets); the
    tickets of models without usage are let go."""
    upstream = {public: name for name, public in tally.models.items()}
    for model, usage in tally.usage.items():
        row = Call(
            "anthropic", OPERATION, model, b"", {}, False, call.headers, call.request_id, 0.0
        )
        row.started = call.started
        row.status = 200
        row.usage = usage
        row.deployment = f"{provider}/{upstream.get(model, model)}"
        row.key_id, row.team = call.key_id, call.team
        row.path = call.path
        row.ticket = tickets.pop(model, None)
        request_log.inflight += 1  # record() counts every row out as a finished request
        request_log.record(row, 0.0)
    for ticket in tickets.values():
        auth.limiter.finish(ticket)
    if tally.unread:
        log.warning(
            "batch result lines not counted", count=tally.unread, request_id=call.request_id
        )

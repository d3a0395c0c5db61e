"""An output file's usage, counted when it is read through the gateway.

Output files are relayed chunk by chunk (:meth:`turnout.batches.accounting.Tally.relay`:
at most one line held, :data:`~turnout.batches.accounting.MAX_LINE` bytes). Each line whose
``response.status_code`` is 200 adds its ``response.body.usage`` to its model's total
(the body's ``model`` is the upstream name; the record maps it back to the public one). When
the relay ends, however it ends, one request-log row per model (operation ``batches.usage``,
protocol ``openai``) carries the sums, priced at the batch share of the model's price
(:data:`turnout.pricing.BATCH_SHARE`), and settles the key's budgets on a ticket put through
the limiter before the relay (:func:`turnout.batches.accounting.tickets`). An output file
does not change, so a read counts only the lines past those already counted: reading it
again costs nothing more. An error file's lines carry no usage and count nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.batches.accounting import OPERATION, Tally, log
from turnout.limits.plan import Ticket
from turnout.protocols.openai.usage import parse
from turnout.types import Call


class OutputTally(Tally):
    """What one output-file read relays and counts."""

    def line(self, raw: bytes) -> None:
        self.lines += 1
        if self.lines <= self.skip or not raw.strip():
            return
        try:
            response = orjson.loads(raw)["response"]
            if response is None or response.get("status_code") != 200:
                return
            body = response["body"]
            usage = parse(body.get("usage"))
            model = body.get("model")
        except Exception:  # a hostile or broken line: relayed as it came, not counted
            self.unread += 1
            return
        if usage is None:
            return
        public = self.models.get(model) if isinstance(model, str) else None
        if public is None:
            public = next(iter(self.models.values()))
        total = self.usage.setdefault(public, type(usage)())
        total.input_tokens += usage.input_tokens
        total.output_tokens += usage.output_tokens
        total.cached_tokens += usage.cached_tokens
        total.reasoning_tokens += usage.reasoning_tokens


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
        row = Call("openai", OPERATION, model, b"", {}, False, call.headers, call.request_id, 0.0)
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
            "batch output lines not counted", count=tally.unread, request_id=call.request_id
        )

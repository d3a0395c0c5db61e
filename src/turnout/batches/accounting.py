"""A batch's limits at creation, its usage when its results are read.

At creation every model of the batch must be allowed to the key, and each model's plan is
admitted once (one request against its request limits; refused while a budget is spent; a
budgeted key is refused a model the gateway cannot price, as on every route). The batch's
cost is not reserved: it is counted when its results are read.

Results are relayed chunk by chunk. Each complete line (a JSON object, at most
:data:`MAX_LINE` bytes held) is read for its ``result.message.usage`` and summed per public
model; when the relay ends, however it ends, request-log rows per model (``batches.usage``,
each within :data:`ROW_TOKENS`) carry the sums, priced at the batch share of the model's price
(:data:`turnout.pricing.BATCH_SHARE`), and settle the key's budgets on a ticket put through
the limiter as the relay starts (reading results counts as one request per model; refused or
not, the results are relayed). A batch's results file does not change once it has ended, so
a read counts only the lines past the record's mark (``accounted``), and only those it claims
by moving the mark with a compare-and-set (:class:`Tally`): reads at the same time, on one
replica or several, count each line once between them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from turnout.auth.principal import Principal, compile_principal
from turnout.batches.admission import model_part
from turnout.budgets.periods import Periods
from turnout.errors import PermissionDenied, Unpriced
from turnout.limits.plan import Ticket
from turnout.limits.step import refusal
from turnout.observability.logging import get_logger
from turnout.protocols.anthropic.usage import parse
from turnout.types import Call, Usage

OPERATION = "batches.usage"
MAX_LINE = 16 * 1024 * 1024
MAX_LINES = 100_000  # a batch's most requests (Anthropic's), so its results' most lines
CLAIM_EVERY = 1000  # lines of usage held before they are claimed (turnout.batches.store)
MAX_CLAIMS = 64  # claims tried at once: each lost one means another read moved the mark
ROW_TOKENS = 1_000_000_000  # tokens of a kind in one request-log row (32-bit columns)
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
        full = principal.plan(model)
        plan = None if full is None else model_part(full)
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


async def tickets(
    auth: Any, principal: Principal | None, models: list[str], out: dict[str, Ticket] | None = None
) -> dict[str, Ticket]:
    """Before results are relayed: a ticket per model whose plan counts tokens or spend,
    put through the limiter (so a shared limiter knows it); refused or not, its usage is
    settled on it: results are never withheld, only counted. Each ticket is put in ``out``
    before its admission is awaited, so a caller cancelled meanwhile still finishes every
    ticket admitted (:func:`rows`): none holds a ``max_parallel`` slot past the request."""
    out = {} if out is None else out
    if principal is None or auth is None or not auth.active:
        return out
    limiter = auth.limiter
    for model in models:
        full = principal.plan(model)
        plan = None if full is None else model_part(full)
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


Claim = Callable[[int, int], Awaitable[int]]


class Tally:
    """What one results read relays and counts.

    A line's usage is this read's only once the store's counted-lines mark has been moved
    past it by this read (``claim``, a compare-and-set): lines past the mark are held as
    ``pending`` (at most :data:`CLAIM_EVERY`), claimed every so many lines and when the relay
    ends; a claim that finds the mark moved by another read drops the lines that read took
    and claims the rest from there."""

    def __init__(self, models: dict[str, str], mark: int) -> None:
        self.models = models  # upstream name -> public name (the record's)
        self.mark = mark  # lines counted by any read, as last seen
        self.lines = 0
        self.usage: dict[str, list[Usage]] = {}  # claimed: per model, rows of ROW_TOKENS
        self.pending: list[tuple[int, str, Usage]] = []  # (line, public model, usage)
        self.unread = 0  # lines too long, unparsable or past MAX_LINES: relayed, not counted

    def line(self, raw: bytes) -> None:
        self.lines += 1
        if self.lines <= self.mark or not raw.strip():
            return
        if self.lines > MAX_LINES:
            self.unread += 1
            return
        try:
            found = self.read(orjson.loads(raw))
        except Exception:  # a hostile or broken line: relayed as it came, not counted
            self.unread += 1
            return
        if found is None:
            return
        model, usage = found
        public = self.models.get(model) if isinstance(model, str) else None
        if public is None:
            public = next(iter(self.models.values()))
        self.pending.append((self.lines, public, usage))

    def read(self, data: Any) -> tuple[object, Usage] | None:
        """A parsed line's model (the upstream's name) and usage; None: a line that counts
        nothing. A line of the wrong shape raises (it is then relayed, not counted). An
        Anthropic results line: ``result.message.usage`` of a ``succeeded`` result."""
        result = data["result"]
        if result.get("type") != "succeeded":
            return None
        message = result["message"]
        usage = parse(message.get("usage"))
        return None if usage is None else (message.get("model"), usage)

    def _take(self, model: str, usage: Usage) -> None:
        """Into the model's last row, or a new one: a row's tokens must fit the request log's
        32-bit columns (PostgreSQL refused one row summing a large read: its usage was never
        logged)."""
        rows = self.usage.setdefault(model, [])
        total = rows[-1] if rows else None
        if total is None or (
            total.input_tokens + usage.input_tokens > ROW_TOKENS
            or total.output_tokens + usage.output_tokens > ROW_TOKENS
            or total.cached_tokens + usage.cached_tokens > ROW_TOKENS
            or total.reasoning_tokens + usage.reasoning_tokens > ROW_TOKENS
        ):
            total = Usage()
            rows.append(total)
        total.input_tokens += usage.input_tokens
        total.output_tokens += usage.output_tokens
        total.cached_tokens += usage.cached_tokens
        total.reasoning_tokens += usage.reasoning_tokens

    async def claim(self, claim: Claim | None) -> None:
        """Make the lines read past the mark this read's, those another read has not taken.
        A store that fails: they are counted here (twice at worst, never given away)."""
        for _ in range(MAX_CLAIMS):
            if self.lines <= self.mark:
                break
            found = self.mark
            if claim is not None:
                try:
                    found = await claim(self.mark, self.lines)
                except Exception as exc:
                    log.warning("batch results claim failed", error=repr(exc)[:200])
            if found == self.mark:
                for _, model, usage in self.pending:
                    self._take(model, usage)
                self.mark = self.lines
                break
            self.mark = found
            self.pending = [p for p in self.pending if p[0] > found]
        self.pending.clear()

    async def relay(
        self, chunks: AsyncIterator[bytes], claim: Claim | None = None
    ) -> AsyncIterator[bytes]:
        """The chunks as they came, each one's lines counted before it is handed on (a client
        that leaves once it has them is charged for them), claimed every
        :data:`CLAIM_EVERY` lines. Each byte is searched for a newline once."""
        held = bytearray()
        skipping = False  # inside a line longer than MAX_LINE
        async for chunk in chunks:
            if self.lines >= MAX_LINES:  # past a batch's most lines: relayed, not read
                held.clear()
                found = chunk.count(b"\n")
                self.lines += found
                self.unread += found
                yield chunk
                continue
            scan = len(held)
            held += chunk
            start = 0
            while (end := held.find(b"\n", scan)) >= 0:
                if skipping:
                    skipping = False
                    self.lines += 1
                    self.unread += 1
                else:
                    self.line(bytes(held[start:end]))
                start = scan = end + 1
            del held[:start]
            if len(held) > MAX_LINE:
                held.clear()
                skipping = True
            yield chunk
            if len(self.pending) >= CLAIM_EVERY:
                await self.claim(claim)
        if held and not skipping and self.lines < MAX_LINES:
            self.line(bytes(held))


def _like(ticket: Ticket | None) -> Ticket | None:
    """For a model's further row (a read past :data:`ROW_TOKENS`): a ticket like its first
    holding nothing, so that the row's cost settles the budgets too (a ticket settles once)."""
    if ticket is None:
        return None
    more = Ticket(ticket.plan)
    more.periods, more.second, more.local = ticket.periods, ticket.second, ticket.local
    more.finished = True
    return more


def _rows_of(tally: Tally, tickets: dict[str, Ticket]) -> list[tuple[str, Usage, Ticket | None]]:
    """Each row's model, usage and ticket; the tickets with a row are taken out."""
    out: list[tuple[str, Usage, Ticket | None]] = []
    for model, each in tally.usage.items():
        first = tickets.pop(model, None)
        out += [(model, u, first if i == 0 else _like(first)) for i, u in enumerate(each)]
    return out


@dataclass(frozen=True, slots=True)
class Owner:
    """Whom a batch's usage is charged to: the key that made it, whoever reads its results."""

    key_id: str | None  # None on an open gateway
    team: str | None
    principal: Principal | None  # None: no plan to settle (open gateway, master)


def owner(auth: Any, key_id: str) -> Owner:
    """The owner recorded with the batch (a key id, ``master``, or "" on an open gateway),
    looked up in the key directory only now, on a results read, never on a model call."""
    if not key_id:
        return Owner(None, None, None)
    directory = getattr(auth, "directory", None)
    if directory is None:
        return Owner(key_id, None, None)
    found = directory.principal_of(key_id)
    if found is None and (key := directory.keys.get(key_id)) is not None:
        # Revoked (or its team deleted) since: refused its batches, but what they used is
        # still its own and its team's, on their budgets too, as the request log's rows
        # (which a restarted gateway seeds the budgets from) say it is.
        team = directory.teams.get(key.team) if key.team else None
        found = compile_principal(key, team)
    team = found.team if found is not None else directory.team_of(key_id)
    return Owner(key_id, team, found)


async def counted(
    tally: Tally,
    chunks: Any,
    claim: Claim,
    call: Call,
    charged: Owner,
    provider: str,
    state: Any,
) -> AsyncIterator[bytes]:
    """A results (or output) file's relay, from its first chunk asked for to its end however
    it ends: the tickets are taken inside (a relay never started holds none), and its end
    closes the upstream, claims the lines read and finishes every ticket, whatever of that is
    cancelled. The usage is the batch owner's (``charged``): the master key or an admin key
    reading the results first must not leave the owner's budgets uncharged. ``call.protocol``
    names the rows' protocol."""
    held: dict[str, Ticket] = {}
    publics = list(dict.fromkeys(tally.models.values()))
    try:
        await tickets(state.auth, charged.principal, publics, held)
        async for chunk in tally.relay(chunks, claim):
            yield chunk
    finally:
        try:
            await close(chunks)
            await tally.claim(claim)
        finally:
            rows(tally, call, provider, held, state.auth, state.request_log, charged)


async def close(chunks: Any) -> None:
    """Close an upstream's stream now (a dropped results read would otherwise keep its
    connection open until the garbage collector found it)."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def rows(
    tally: Tally,
    call: Call,
    provider: str,
    tickets: dict[str, Ticket],
    auth: Any,
    request_log: Any,
    charged: Owner | None = None,
) -> None:
    """One request-log row per model with usage (their tickets settle the budgets), the
    ``charged`` owner's (else the reading call's key); the tickets of models without usage
    are let go. The rows are in the reading call's protocol (``anthropic`` for Message
    Batches, ``openai`` for an output file)."""
    upstream = {public: name for name, public in tally.models.items()}
    for model, usage, ticket in _rows_of(tally, tickets):
        row = Call(
            call.protocol, OPERATION, model, b"", {}, False, call.headers, call.request_id, 0.0
        )
        row.started = call.started
        row.status = 200
        row.usage = usage
        row.deployment = f"{provider}/{upstream.get(model, model)}"
        if charged is None:
            row.key_id, row.team = call.key_id, call.team
        else:
            row.key_id, row.team = charged.key_id, charged.team
        row.path = call.path
        row.ticket = ticket
        request_log.inflight += 1  # record() counts every row out as a finished request
        request_log.record(row, 0.0)
    for ticket in tickets.values():
        auth.limiter.finish(ticket)
    if tally.unread:
        log.warning(
            "batch result lines not counted", count=tally.unread, request_id=call.request_id
        )

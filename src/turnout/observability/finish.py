"""What the background drain learns about a finished call, computed once for every consumer.

The request path records only ``(call, latency)``; here, off the request path, the drain
parses a stream's remembered usage, prices it, explains each upstream attempt and converts
the call's monotonic start into wall-clock time. Stdout lines, request-log rows, metrics and
spans all read the same :class:`Finished`, so they can never disagree about a request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from turnout.config.compile import ProviderSpec
from turnout.observability.attempts import Attempt, Explainer
from turnout.observability.slog import structlog
from turnout.pricing import BATCH_SHARE, PriceTable
from turnout.types import Call, Note, Usage
from turnout.usage.base import billed, cut_short, floor, unanswered

log = structlog.get_logger("turnout.request")


@dataclass(slots=True)
class Finished:
    call: Call
    latency: float  # seconds
    wall: float  # epoch seconds of the start
    usage: Usage | None
    cost: float | None
    provider: str | None
    key_id: str | None
    notes: list[Note]
    failed: bool  # some upstream attempt failed
    explainer: Explainer
    # Its usage is only its prompt, counted by the gateway (usage.base.billed): sent upstream,
    # it ended without an answer.
    prompt_only: bool = False
    _attempts: list[Attempt] | None = None

    @property
    def attempts(self) -> list[Attempt]:
        """Each upstream attempt, explained on first use (most calls are one success, and
        only traces need them then)."""
        if self._attempts is None:
            self._attempts = self.explainer.explain(self.notes)
        return self._attempts

    @property
    def ts(self) -> datetime:
        return datetime.fromtimestamp(self.wall, UTC)

    @property
    def cache_hit(self) -> bool:
        return self.call.cache == "hit"


class Finisher:
    def __init__(self, prices: PriceTable, providers: Mapping[str, ProviderSpec]) -> None:
        self.prices = prices
        self.explainer = Explainer(providers)
        self.offset = time.time() - time.perf_counter()

    def use(self, prices: PriceTable, providers: Mapping[str, ProviderSpec]) -> None:
        """Price and explain by a reloaded config."""
        self.prices = prices
        self.explainer = Explainer(providers)

    def refresh_clock(self) -> None:
        """Follow wall-clock adjustments (called once per drained batch)."""
        self.offset = time.time() - time.perf_counter()

    def finish(self, call: Call, latency: float) -> Finished:
        usage = call.usage
        prompt = False
        if usage is None and (observer := call.observer) is not None:
            try:
                usage = call.usage = observer.usage()
            except Exception as exc:  # a malformed upstream frame must not lose the row
                log.warning("usage not readable", request_id=call.request_id, error=repr(exc))
        if cut_short(call):  # what it reported, if anything, is only a part
            usage = call.usage = floor(call, usage)
        elif usage is None and unanswered(call):  # sent, never answered: its prompt
            usage = call.usage = billed(call)
            prompt = True
        deployment = call.deployment
        provider = deployment.split("/", 1)[0] if deployment else None
        notes: list[Note] = call.notes or []
        key_id = None
        failed = False
        for note in notes:
            if note[5] is not None:  # an error body or exception: that attempt failed
                failed = True
            if note[0] == deployment:
                key_id = note[1] or None
        if call.cache == "hit":
            cost: float | None = 0.0
        else:
            cost = self.prices.cost(call.model, deployment, usage)
            if cost is not None and call.operation == "batches.usage":  # turnout.batches
                cost *= BATCH_SHARE
        wall = call.started + self.offset
        return Finished(
            call,
            latency,
            wall,
            usage,
            cost,
            provider,
            key_id,
            notes,
            failed,
            self.explainer,
            prompt,
        )

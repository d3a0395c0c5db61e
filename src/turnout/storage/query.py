"""What the usage and log readers ask for and get back, shared by every backend.

Percentiles are *discrete* (the smallest value whose cumulative share reaches p, as SQL's
``percentile_disc``): every backend computes them the same way, so the contract tests can ask
for equal answers, and a p99 is always a latency some request really had.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# group name -> column (day is computed from ts)
GROUPS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "deployment": "deployment",
    "key": "gateway_key",
    "team": "team",
    "provider_key": "key_id",
    "status": "status",
    "day": "ts",
    "all": "",  # one group: the total
}
PERCENTILES = (0.5, 0.9, 0.99)
FILTERS = (
    "model",
    "provider",
    "deployment",
    "status",
    "error",
    "gateway_key",
    "key_id",
    "team",
    "request_id",
    "protocol",
    "operation",
    "stream",
    "cache_hit",
    "task_id",
)
# Filters an index serves ((model, ts), (gateway_key, ts)): a page with only these never needs
# a bounded scan. Any other filter may match rarely, so its page examines at most ``scan`` rows.
INDEXED = frozenset(("model", "gateway_key"))
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class UsageQuery:
    group_by: str
    start: datetime
    end: datetime
    model: str | None = None


@dataclass(slots=True)
class UsageGroup:
    group: str | None
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    unpriced: int = 0
    latency: tuple[float | None, ...] = ()
    ttft: tuple[float | None, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 6) if self.requests else 0.0,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": None if self.cost is None else round(self.cost, 10),
            "unpriced_requests": self.unpriced,
            "latency_ms": _named(self.latency),
            "ttft_ms": _named(self.ttft),
        }


def _named(values: tuple[float | None, ...]) -> dict[str, float | None]:
    names = [f"p{round(p * 100):d}" for p in PERCENTILES]
    padded = (*values, *([None] * (len(names) - len(values))))
    return {n: (None if v is None else round(v, 3)) for n, v in zip(names, padded, strict=False)}


def percentile(sorted_values: list[float], p: float) -> float | None:
    """The smallest value whose cumulative share is at least ``p`` (``cume_dist() >= p``)."""
    n = len(sorted_values)
    for i, v in enumerate(sorted_values, 1):
        if i / n >= p and (i == n or sorted_values[i] != v):
            return v
    return None


def cost_total(known: float, priced: int, unpriced: int) -> float | None:
    """The summed cost; None when nothing in the group could be priced but something was used."""
    if priced == 0 and unpriced > 0:
        return None
    return known


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page of the log ended: the (ts, id) of its last row, newest first."""

    ts: datetime
    id: str

    def encode(self) -> str:
        raw = f"{self.ts.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        ts, _, row_id = raw.partition("|")
        return cls(datetime.fromisoformat(ts), row_id)


@dataclass(frozen=True, slots=True)
class LogQuery:
    start: datetime | None = None
    end: datetime | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 50
    cursor: Cursor | None = None
    errors_only: bool = False  # status >= 400 or an error reason (what usage counts as errors)
    # With filters no index serves, examine at most this many rows (newest first from the
    # cursor); the page then ends early with ``partial`` and a cursor to go on from.
    scan: int | None = None

    @property
    def bounded(self) -> bool:
        return self.scan is not None and (
            self.errors_only or any(name not in INDEXED for name in self.filters)
        )


@dataclass(slots=True)
class LogPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    partial: bool = False  # the scan stopped before the page was full: go on from the cursor


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str, now: datetime) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or a duration before ``now``
    such as ``30m``, ``24h``, ``7d``."""
    text = value.strip()
    m = _RELATIVE.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time: use a duration back from now (a number and s, m, h, d "
            "or w: 30m, 24h, 7d, 2w) or an ISO 8601 date or time (2025-01-31, "
            "2025-01-31T12:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def window(
    start: str | None, end: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The [start, end) range of a usage or log request: the last 24 hours by default."""
    now = now or datetime.now(UTC)
    stop = parse_time(end, now) if end else now + timedelta(seconds=1)
    begin = parse_time(start, now) if start else stop - timedelta(days=1)
    return begin, stop

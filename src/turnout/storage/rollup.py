"""Rollups of the request log: what the dashboard's charts read instead of the raw rows.

A request-log table of millions of rows cannot be aggregated for every chart refresh, so each
batch the writer inserts is also summed, in the same transaction, into three small tables
(docs/dashboard.md, "Where the numbers come from"):

- ``route_minute``: per minute and (model, provider, deployment): the overview and usage over
  short ranges;
- ``route_hour`` and ``caller_hour``: per hour and route, or per hour and (gateway key, team):
  usage over long ranges, spend, and everything grouped by caller;
- ``latency_minute``: per minute, a histogram of latency and time to first token, from which
  p50/p95 are estimated.

A query then reads at most (buckets in range) x (active groups) rows, however many requests
the range holds. The sums are exact; percentiles come from log-spaced bins four to a doubling,
so an estimate is within 9% of a latency some request really had (``GET /admin/usage`` still
gives exact percentiles from the raw rows).

Only rows newly stored are summed: fresh batches always are, replays only the rows the
database did not have yet, so a row spooled and replayed twice is counted once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from turnout.storage.rows import INDEX, Row

K = TypeVar("K")
MINUTE, HOUR = 60, 3600
# Histogram bins: bin 0 holds up to 1 ms, bin i holds (2^((i-1)/4), 2^(i/4)] ms, the last bin
# everything above 2^23.75 ms (3.9 hours). Changing them is a migration (stored bin numbers).
BINS_PER_DOUBLING = 4
BOUNDS: tuple[float, ...] = tuple(2.0 ** (i / BINS_PER_DOUBLING) for i in range(96))
LAST_BIN = len(BOUNDS)
LATENCY, TTFT = 0, 1  # the histogram's ``metric`` column

# The summed measures, in the order of every rollup table's value columns.
MEASURES: tuple[str, ...] = (
    "requests",
    "errors",
    "streams",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "priced",
    "unpriced",
    "latency_ms_sum",
    "ttft_ms_sum",
    "ttft_count",
)
ROUTE_DIMS = ("model", "provider", "deployment")
CALLER_DIMS = ("gateway_key", "team")
NONE = ""  # a missing dimension (no key, no deployment) is stored as '' (key columns)

_TS = INDEX["ts"]
_ROUTE = tuple(INDEX[d] for d in ROUTE_DIMS)
_CALLER = tuple(INDEX[d] for d in CALLER_DIMS)
_STATUS, _ERROR, _STREAM, _HIT = (INDEX[n] for n in ("status", "error", "stream", "cache_hit"))
_TOKENS = tuple(
    INDEX[n] for n in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
)
_IN, _OUT, _CACHED, _REASONING = _TOKENS
_M, _P, _D = _ROUTE
_K, _T = _CALLER
_COST, _LATENCY, _TTFT_I = INDEX["cost"], INDEX["latency_ms"], INDEX["ttft_ms"]
_STATE = INDEX["task_state"]  # set on an A2A task's state-change rows only: not calls


def bin_of(ms: float) -> int:
    """The histogram bin of a duration in milliseconds."""
    return bisect_left(BOUNDS, ms)


def bin_value(index: int) -> float:
    """The value a bin stands for: its geometric middle (1 ms for the first bin)."""
    if index <= 0:
        return 1.0
    return float(2.0 ** ((min(index, LAST_BIN) - 0.5) / BINS_PER_DOUBLING))


def estimate(counts: dict[int, int], p: float) -> float | None:
    """The p-quantile of a histogram {bin: count}, as :func:`percentile` defines it on raw
    values (the smallest bin whose cumulative share reaches p)."""
    total = sum(counts.values())
    if total <= 0:
        return None
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= p * total:
            return round(bin_value(index), 3)
    return round(bin_value(max(counts)), 3)


def _add(into: list[float], values: Sequence[float]) -> None:
    for i, v in enumerate(values):
        into[i] += v


@dataclass(slots=True)
class Deltas:
    """What one batch adds to each rollup table: {key: [measures...]} and histogram counts."""

    route_minute: dict[tuple[int, str, str, str], list[float]] = field(default_factory=dict)
    route_hour: dict[tuple[int, str, str, str], list[float]] = field(default_factory=dict)
    caller_hour: dict[tuple[int, str, str], list[float]] = field(default_factory=dict)
    latency_minute: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.route_minute)


def measures(row: Row) -> list[float]:
    """One row's contribution to every measure (None counts as nothing)."""
    acc = [0.0] * len(MEASURES)
    _count(acc, row)
    return acc


def _count(acc: list[float], row: Row) -> None:
    """Add one row to an accumulator of MEASURES: plain statements, no temporary lists
    (this runs for every row the writer stores)."""
    status, error, cost, first = row[_STATUS], row[_ERROR], row[_COST], row[_IN]
    acc[0] += 1
    if error is not None or (status is not None and status >= 400):
        acc[1] += 1
    if row[_STREAM]:
        acc[2] += 1
    if row[_HIT]:
        acc[3] += 1
    if first is not None:
        acc[4] += first
    if (v := row[_OUT]) is not None:
        acc[5] += v
    if (v := row[_CACHED]) is not None:
        acc[6] += v
    if (v := row[_REASONING]) is not None:
        acc[7] += v
    if cost is not None:
        acc[8] += cost
        acc[9] += 1
    elif first is not None:
        acc[10] += 1
    if (v := row[_LATENCY]) is not None:
        acc[11] += v
    if (v := row[_TTFT_I]) is not None:
        acc[12] += v
        acc[13] += 1


def aggregate(rows: Iterable[Row]) -> Deltas:
    """Sum a batch of rows into the deltas of every rollup table (see :class:`Summer`)."""
    summer = Summer()
    summer.add(rows)
    return summer.deltas()


class Summer:
    """Sums rows into the rollups' deltas, a slice at a time if need be: each row is added to
    one accumulator per (minute, route, caller) and to its two histogram bins; the route and
    caller tables are then sums of those accumulators (far fewer than the rows), so a row is
    counted once, not once per table. The writer adds a large batch in slices and lets the
    event loop serve requests in between."""

    __slots__ = ("_last_ts", "_minute", "hist", "sums")

    def __init__(self) -> None:
        self.sums: dict[tuple[Any, ...], list[float]] = {}
        self.hist: dict[tuple[int, int, int], int] = {}
        self._last_ts: Any = None
        self._minute = 0

    def add(self, rows: Iterable[Row]) -> None:
        width = len(MEASURES)
        sums, hist = self.sums, self.hist
        last_ts, minute = self._last_ts, self._minute
        for row in rows:
            if row[_STATE] is not None:
                continue
            ts = row[_TS]
            if ts is not last_ts:
                minute = int(ts.timestamp()) // MINUTE * MINUTE
                last_ts = ts
            key = (minute, row[_M], row[_P], row[_D], row[_K], row[_T])
            acc = sums.get(key)
            if acc is None:
                acc = sums[key] = [0.0] * width
            _count(acc, row)
            if (v := row[_LATENCY]) is not None:
                h = (minute, LATENCY, bisect_left(BOUNDS, v))
                hist[h] = hist.get(h, 0) + 1
            if (v := row[_TTFT_I]) is not None:
                h = (minute, TTFT, bisect_left(BOUNDS, v))
                hist[h] = hist.get(h, 0) + 1
        self._last_ts, self._minute = last_ts, minute

    def deltas(self) -> Deltas:
        out = Deltas(latency_minute=self.hist)
        for (m, model, provider, deployment, key_id, team), values in self.sums.items():
            dims = (model or NONE, provider or NONE, deployment or NONE)
            hour = m - m % HOUR
            _merge(out.route_minute, (m, *dims), values)
            _merge(out.route_hour, (hour, *dims), values)
            _merge(out.caller_hour, (hour, key_id or NONE, team or NONE), values)
        return out


def _merge(table: dict[K, list[float]], key: K, values: Sequence[float]) -> None:
    acc = table.get(key)
    if acc is None:
        table[key] = list(values)
    else:
        _add(acc, values)

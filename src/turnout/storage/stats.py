"""The dashboard's queries over the rollups: time series and the overview, shaped as JSON.

Every answer is computed from the rollup tables (:mod:`turnout.storage.rollup`), never from
the raw rows, so its cost depends on the range and the number of groups, not on the traffic.
The source is picked from the range: minutes up to six hours, hours beyond (and always for
keys and teams, which only the hourly caller table has). Ranges are widened to whole steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from turnout.storage.query import cost_total
from turnout.storage.rollup import HOUR, LATENCY, MEASURES, MINUTE, NONE, TTFT, estimate

# group name of the API -> (rollup table family, column)
SERIES_GROUPS: dict[str, tuple[str, str]] = {
    "all": ("route", "all"),
    "model": ("route", "model"),
    "provider": ("route", "provider"),
    "deployment": ("route", "deployment"),
    "key": ("caller", "gateway_key"),
    "team": ("caller", "team"),
}
STEPS = (60, 300, 900, 1800, 3600, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR)
MAX_POINTS = 100  # bars per chart: enough to read, few enough to draw and send
MINUTES_UP_TO = 6 * HOUR  # longer ranges read the hourly tables
MAX_GROUPS = 50
OTHER = "(other)"
_M = {name: i for i, name in enumerate(MEASURES)}


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    table: str  # route_minute, route_hour or caller_hour
    group_by: str  # a dimension column of that table, or "all"
    start: int  # epoch seconds, a multiple of step
    end: int
    step: int
    filters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    bucket: int
    group: str
    values: list[float]  # in MEASURES order


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    bucket: int
    metric: int
    bin: int
    count: int


class StatsStore(Protocol):
    """What a backend answers from its rollups (``LogStore`` implementations have these)."""

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]: ...

    async def histogram(self, start: int, end: int, step: int) -> list[HistogramPoint]: ...


class BadRange(ValueError):
    """A range or grouping the caller must fix."""


def plan(
    group_by: str,
    start: datetime,
    end: datetime,
    step: int | None = None,
    model: str | None = None,
) -> SeriesQuery:
    """Which table, step and aligned range answer a series request (``model``: only that
    public model, for the route groupings)."""
    if group_by not in SERIES_GROUPS:
        raise BadRange(f"group_by must be one of {', '.join(SERIES_GROUPS)}; got {group_by!r}")
    if model is not None and SERIES_GROUPS[group_by][0] != "route":
        raise BadRange("a model filter applies to grouping by model, provider or deployment")
    begin, stop = int(start.timestamp()), int(end.timestamp())
    if stop <= begin:
        raise BadRange("'to' must be after 'from'")
    family, column = SERIES_GROUPS[group_by]
    span = stop - begin
    minutes = family == "route" and span <= MINUTES_UP_TO
    floor = MINUTE if minutes else HOUR
    if step is None:
        wanted = max(floor, -(-span // MAX_POINTS))
        step = next((s for s in STEPS if s >= wanted), STEPS[-1])
    elif step not in STEPS or step < floor:
        allowed = ", ".join(str(s) for s in STEPS if s >= floor)
        raise BadRange(f"step must be one of {allowed} seconds for this range and grouping")
    elif -(-span // step) > 5000:
        raise BadRange("too many points: choose a larger step")
    table = f"{family}_{'minute' if minutes else 'hour'}"
    first = begin - begin % step
    last = stop + (-stop % step)
    return SeriesQuery(table, column, first, last, step, {"model": model} if model else {})


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def totals(values: list[float]) -> dict[str, Any]:
    """The summed measures of a group as the API shows them."""
    v = {name: values[i] for i, name in enumerate(MEASURES)}
    requests = int(v["requests"])
    unpriced, priced = int(v["unpriced"]), int(v["priced"])
    ttft_count = int(v["ttft_count"])
    cost = cost_total(float(v["cost"]), priced, unpriced)
    return {
        "requests": requests,
        "errors": int(v["errors"]),
        "error_rate": round(v["errors"] / requests, 6) if requests else 0.0,
        "streams": int(v["streams"]),
        "cache_hits": int(v["cache_hits"]),
        "input_tokens": int(v["input_tokens"]),
        "output_tokens": int(v["output_tokens"]),
        "cached_tokens": int(v["cached_tokens"]),
        "reasoning_tokens": int(v["reasoning_tokens"]),
        "cost_usd": None if cost is None else round(cost, 10),
        "unpriced_requests": unpriced,
        "latency_ms_avg": round(v["latency_ms_sum"] / requests, 3) if requests else None,
        "ttft_ms_avg": round(v["ttft_ms_sum"] / ttft_count, 3) if ttft_count else None,
    }


CHARTED = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
)


@dataclass(slots=True)
class _Group:
    """One group's charted series (one list per charted measure) and its totals."""

    series: list[list[float]]
    sums: list[float]

    @classmethod
    def empty(cls, buckets: int) -> _Group:
        return cls([[0.0] * buckets for _ in CHARTED], [0.0] * len(MEASURES))

    def add(self, other: _Group) -> None:
        for mine, theirs in zip(self.series, other.series, strict=True):
            for i, v in enumerate(theirs):
                mine[i] += v
        for j, v in enumerate(other.sums):
            self.sums[j] += v


_CHARTED_AT = [(k, _M[name]) for k, name in enumerate(CHARTED)]


async def series_report(store: StatsStore, query: SeriesQuery, limit: int = 20) -> dict[str, Any]:
    """Dense series per group (every bucket, zeros where nothing happened), the groups with
    most requests first; beyond ``limit`` groups the rest are summed into ``(other)``."""
    points = await store.series(query)
    buckets = list(range(query.start, query.end, query.step))
    index = {b: i for i, b in enumerate(buckets)}
    groups: dict[str, _Group] = {}
    for p in points:
        i = index.get(p.bucket)
        if i is None:
            continue
        g = groups.get(p.group)
        if g is None:
            g = groups[p.group] = _Group.empty(len(buckets))
        values = p.values
        for k, j in _CHARTED_AT:
            g.series[k][i] += values[j]
        sums = g.sums
        for j, v in enumerate(values):
            sums[j] += v
    requests = _M["requests"]
    order = sorted(groups, key=lambda name: (-groups[name].sums[requests], name))
    limit = max(1, min(limit, MAX_GROUPS))
    if len(order) > limit:
        kept, rest = order[: limit - 1], order[limit - 1 :]
        other = _Group.empty(len(buckets))
        for name in rest:
            other.add(groups[name])
        groups = {**{name: groups[name] for name in kept}, OTHER: other}
        order = [*kept, OTHER]
    grand = [0.0] * len(MEASURES)
    out = []
    for name in order:
        g = groups[name]
        for j, v in enumerate(g.sums):
            grand[j] += v
        series = {
            measure: [_num(measure, v) for v in g.series[k]] for k, measure in enumerate(CHARTED)
        }
        out.append(
            {"group": None if name == NONE else name, "series": series, "total": totals(g.sums)}
        )
    return {
        "from": _iso(query.start),
        "to": _iso(query.end),
        "step": query.step,
        "source": query.table,
        "buckets": buckets,
        "groups": out,
        "total": totals(grand),
    }


def _num(name: str, value: float) -> float | int:
    return round(value, 10) if name == "cost" else int(value)


OVERVIEW_STEPS = {900: 60, 3600: 60, 6 * 3600: 300}
RECENT = 5 * MINUTE  # the "current" figures: the last five minutes


async def overview(store: StatsStore, now: datetime, window: int = HOUR) -> dict[str, Any]:
    """The overview page: series over ``window`` seconds (per minute up to an hour, then
    wider buckets), the same figures for the last five minutes, and spend today and this
    month (UTC)."""
    t = int(now.timestamp())
    step = OVERVIEW_STEPS.get(window, MINUTE)
    end = t - t % step + step
    start = end - -(-window // step) * step
    buckets = list(range(start, end, step))
    by_bucket = {p.bucket: p.values for p in await store.series(_all(start, end, step))}
    hists = _histograms(await store.histogram(start, end, step))

    def seconds(bucket: int) -> int:  # the current bucket has only lasted this long
        return max(1, min(step, t - bucket + 1))

    zero = [0.0] * len(MEASURES)
    rows = [(b, by_bucket.get(b, zero)) for b in buckets]
    req, err, out = _M["requests"], _M["errors"], _M["output_tokens"]
    series: dict[str, list[Any]] = {
        "requests": [int(r[req]) for _, r in rows],
        "errors": [int(r[err]) for _, r in rows],
        "rps": [round(r[req] / seconds(b), 4) for b, r in rows],
        "error_rate": [round(r[err] / r[req], 6) if r[req] else None for _, r in rows],
        "tokens_per_s": [round(r[out] / seconds(b), 3) for b, r in rows],
    }
    for name, metric in (("latency", LATENCY), ("ttft", TTFT)):
        for p in (50, 95):
            series[f"{name}_p{p}"] = [
                estimate(hists.get((b, metric), {}), p / 100) for b in buckets
            ]
    minute = t - t % MINUTE
    recent = minute + MINUTE - RECENT
    last = await store.series(_all(recent, minute + MINUTE, RECENT))
    recent_hists = _histograms(await store.histogram(recent, minute + MINUTE, RECENT))
    day = t - t % 86400
    month = int(datetime(now.year, now.month, 1, tzinfo=UTC).timestamp())
    spend = await store.series(SeriesQuery("route_hour", "all", month, day + 86400, 86400))
    return {
        "now": now.isoformat(),
        "window": window,
        "step": step,
        "buckets": buckets,
        "series": series,
        "current": _current(last, recent_hists, max(1, t - recent + 1)),
        "spend": {
            "today": _spend([p for p in spend if p.bucket >= day]),
            "month": _spend(spend),
        },
    }


def _all(start: int, end: int, step: int) -> SeriesQuery:
    return SeriesQuery("route_minute", "all", start, end, step)


def _histograms(points: list[HistogramPoint]) -> dict[tuple[int, int], dict[int, int]]:
    out: dict[tuple[int, int], dict[int, int]] = {}
    for h in points:
        counts = out.setdefault((h.bucket, h.metric), {})
        counts[h.bin] = counts.get(h.bin, 0) + h.count
    return out


def _current(
    points: list[SeriesPoint], hists: dict[tuple[int, int], dict[int, int]], elapsed: int
) -> dict[str, Any]:
    summed = [0.0] * len(MEASURES)
    for point in points:
        for j, v in enumerate(point.values):
            summed[j] += v
    merged: dict[int, dict[int, int]] = {LATENCY: {}, TTFT: {}}
    for (_, metric), counts in hists.items():
        for i, n in counts.items():
            merged[metric][i] = merged[metric].get(i, 0) + n
    out = totals(summed)
    out["seconds"] = elapsed
    out["rps"] = round(summed[_M["requests"]] / elapsed, 4)
    out["tokens_per_s"] = round(summed[_M["output_tokens"]] / elapsed, 3)
    for name, metric in (("latency", LATENCY), ("ttft", TTFT)):
        for p in (50, 95):
            out[f"{name}_p{p}"] = estimate(merged[metric], p / 100)
    return out


def _spend(points: list[SeriesPoint]) -> dict[str, Any]:
    cost = sum(p.values[_M["cost"]] for p in points)
    priced = int(sum(p.values[_M["priced"]] for p in points))
    unpriced = int(sum(p.values[_M["unpriced"]] for p in points))
    total = cost_total(cost, priced, unpriced)
    return {
        "cost_usd": None if total is None else round(total, 10),
        "requests": int(sum(p.values[_M["requests"]] for p in points)),
        "unpriced_requests": unpriced,
    }

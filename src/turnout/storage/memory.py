"""The in-memory request log: for tests and for ``storage.url: memory://`` (rows last as long as
the process). It is the reference the SQL backends are compared against in ``tests/contract``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from turnout.storage.query import (
    GROUPS,
    MAX_PAGE,
    PERCENTILES,
    Cursor,
    LogPage,
    LogQuery,
    UsageGroup,
    UsageQuery,
    cost_total,
    percentile,
)
from turnout.storage.rollup import CALLER_DIMS, ROUTE_DIMS, aggregate
from turnout.storage.rows import ID, INDEX, TS, Row, as_dict
from turnout.storage.stats import HistogramPoint, SeriesPoint, SeriesQuery


class MemoryLogStore:
    def __init__(self) -> None:
        self._rows: dict[tuple[datetime, str], Row] = {}

    async def insert(self, rows: list[Row]) -> None:
        await self.insert_again(rows)

    async def insert_again(self, rows: list[Row]) -> int:
        new = 0
        for row in rows:
            key = (row[TS], row[ID])
            if key not in self._rows:
                self._rows[key] = row
                new += 1
        return new

    def _between(self, start: datetime | None, end: datetime | None) -> list[Row]:
        return [
            r
            for r in self._rows.values()
            if (start is None or r[TS] >= start) and (end is None or r[TS] < end)
        ]

    async def usage(self, query: UsageQuery) -> list[UsageGroup]:
        column = INDEX.get(GROUPS[query.group_by], 0)
        model, state = INDEX["model"], INDEX["task_state"]
        groups: dict[Any, list[Row]] = {}
        for row in self._between(query.start, query.end):
            if query.model is not None and row[model] != query.model:
                continue
            if row[state] is not None:  # an A2A task's state change, not a call
                continue
            value: Any = row[column] if query.group_by != "all" else "all"
            if query.group_by == "day":
                value = value.astimezone(UTC).strftime("%Y-%m-%d")
            groups.setdefault(value, []).append(row)
        return [_group(value, rows) for value, rows in sorted(groups.items(), key=_order)]

    async def logs(self, query: LogQuery) -> LogPage:
        rows = self._between(query.start, query.end)
        rows.sort(key=lambda r: (r[TS], r[ID]), reverse=True)
        if query.cursor is not None:
            c = (query.cursor.ts, query.cursor.id)
            rows = [r for r in rows if (r[TS], r[ID]) < c]
        boundary = None
        if query.bounded and query.scan and len(rows) >= query.scan:
            rows = rows[: query.scan]
            boundary = rows[-1]
        for name, value in query.filters.items():
            i = INDEX[name]
            rows = [r for r in rows if r[i] == value]
        if query.errors_only:
            status, error = INDEX["status"], INDEX["error"]
            rows = [r for r in rows if (r[status] or 0) >= 400 or r[error] is not None]
        limit = min(query.limit, MAX_PAGE)
        page = rows[:limit]
        more = len(rows) > limit
        cursor = Cursor(page[-1][TS], page[-1][ID]).encode() if more and page else None
        partial = not more and boundary is not None
        if partial and boundary is not None:
            cursor = Cursor(boundary[TS], boundary[ID]).encode()
        return LogPage([as_dict(r) for r in page], cursor, partial)

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]:
        deltas = aggregate(self._rows.values())
        table: dict[Any, list[float]] = getattr(deltas, query.table)
        dims = ("bucket", *(CALLER_DIMS if query.table == "caller_hour" else ROUTE_DIMS))
        out: dict[tuple[int, str], list[float]] = {}
        for key, values in table.items():
            named = dict(zip(dims, key, strict=True))
            bucket = named["bucket"]
            if not query.start <= bucket < query.end:
                continue
            if any(named[k] != v for k, v in query.filters.items()):
                continue
            group = "" if query.group_by == "all" else named[query.group_by]
            acc = out.setdefault((bucket - bucket % query.step, group), [0.0] * len(values))
            for i, v in enumerate(values):
                acc[i] += v
        return [SeriesPoint(b, g, v) for (b, g), v in out.items()]

    async def histogram(self, start: int, end: int, step: int) -> list[HistogramPoint]:
        out: dict[tuple[int, int, int], int] = {}
        for (bucket, metric, index), n in aggregate(self._rows.values()).latency_minute.items():
            if start <= bucket < end:
                key = (bucket - bucket % step, metric, index)
                out[key] = out.get(key, 0) + n
        return [HistogramPoint(b, m, i, n) for (b, m, i), n in out.items()]

    async def prune(self, before: datetime, batch: int) -> int:
        old = [k for k in self._rows if k[0] < before]
        for k in old:
            del self._rows[k]
        return len(old)

    async def count(self) -> int:
        return len(self._rows)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _order(item: tuple[Any, list[Row]]) -> tuple[bool, str]:
    return (item[0] is None, str(item[0]))


def _group(value: Any, rows: list[Row]) -> UsageGroup:
    g = UsageGroup(None if value is None else str(value))
    status, error, cost = INDEX["status"], INDEX["error"], INDEX["cost"]
    tokens = [INDEX[n] for n in ("input_tokens", "output_tokens", "cached_tokens")]
    reasoning = INDEX["reasoning_tokens"]
    known, priced = 0.0, 0
    for r in rows:
        g.requests += 1
        if (r[status] or 0) >= 400 or r[error] is not None:
            g.errors += 1
        g.input_tokens += r[tokens[0]] or 0
        g.output_tokens += r[tokens[1]] or 0
        g.cached_tokens += r[tokens[2]] or 0
        g.reasoning_tokens += r[reasoning] or 0
        if r[cost] is not None:
            known += r[cost]
            priced += 1
        elif r[tokens[0]] is not None:
            g.unpriced += 1
    g.cost = cost_total(known, priced, g.unpriced)
    latencies = sorted(r[INDEX["latency_ms"]] for r in rows)
    ttfts = sorted(r[INDEX["ttft_ms"]] for r in rows if r[INDEX["ttft_ms"]] is not None)
    g.latency = tuple(percentile(latencies, p) for p in PERCENTILES)
    g.ttft = tuple(percentile(ttfts, p) for p in PERCENTILES)
    return g

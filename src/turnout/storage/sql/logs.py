"""The request log on SQL: bulk inserts, the usage aggregate, the paged log, pruning.

Inserts bypass SQLAlchemy's statement layer: fresh rows go to PostgreSQL with ``COPY``, as
tuples (docs/storage.md has the rates), and to SQLite through
:mod:`turnout.storage.sql.sqlite_writes`. PostgreSQL replays go through a temporary table and
``INSERT ... ON CONFLICT DO NOTHING``, so a row spooled twice is stored once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncEngine

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
)
from turnout.storage.rollup import Deltas, Summer, aggregate
from turnout.storage.rows import COLUMNS, ID, TS, Row, as_dict
from turnout.storage.sql import rollups, sqlite_writes
from turnout.storage.sql.engine import driver_of, is_postgres
from turnout.storage.sql.tables import request_log as t
from turnout.storage.stats import HistogramPoint, SeriesPoint, SeriesQuery

_SUMMED = (
    "status",
    "error",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms",
    "ttft_ms",
)
_PG_REPLAY = (
    "INSERT INTO request_log SELECT * FROM request_log_replay ON CONFLICT (ts, id) DO NOTHING "
    "RETURNING id"
)


# Rows prepared per slice of a batch before the event loop gets a turn: a batch of 2,000 rows
# prepared at once kept requests waiting ~2 ms (the c=1 p99; docs/measurements.md).
STEP = 128


async def _summed(rows: list[Row]) -> Deltas:
    """The batch's rollup deltas, summed a slice at a time."""
    summer = Summer()
    for i in range(0, len(rows), STEP):
        if i:
            await asyncio.sleep(0)
        summer.add(rows[i : i + STEP])
    return summer.deltas()


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class SqlLogStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = is_postgres(engine)

    # -- writing ------------------------------------------------------------------------------
    # Each batch also adds its sums to the rollup tables, in the same transaction: fresh rows
    # all of them, replays only the rows the database did not have (turnout.storage.rollup).
    async def insert(self, rows: list[Row]) -> None:
        if not self.postgres:
            await self._sqlite_write(rows, fresh=True)
            return
        deltas = await _summed(rows)
        async with self.engine.connect() as conn:
            driver = await driver_of(conn)
            async with driver.transaction():
                await driver.copy_records_to_table("request_log", records=rows, columns=COLUMNS)
                await rollups.add_postgres(driver, deltas)
            await conn.commit()

    async def insert_again(self, rows: list[Row]) -> int:
        if not self.postgres:
            return await self._sqlite_write(rows, fresh=False)
        async with self.engine.connect() as conn:
            driver = await driver_of(conn)
            async with driver.transaction():
                await driver.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS request_log_replay "
                    "(LIKE request_log) ON COMMIT DELETE ROWS"
                )
                await driver.copy_records_to_table(
                    "request_log_replay", records=rows, columns=COLUMNS
                )
                stored = {r[0] for r in await driver.fetch(_PG_REPLAY)}
                new = [r for r in rows if r[ID] in stored]
                await rollups.add_postgres(driver, aggregate(new))
            await conn.commit()
            return len(new)

    async def _sqlite_write(self, rows: list[Row], *, fresh: bool) -> int:
        if fresh:
            await sqlite_writes.write_fresh(self.engine, rows)
            return len(rows)
        return await sqlite_writes.write_again(self.engine, rows)

    async def prune(self, before: datetime, batch: int) -> int:
        """Small batches keep each transaction short: writers and readers never wait long."""
        oldest = select(t.c.ts, t.c.id).where(t.c.ts < before).limit(batch)
        stmt = delete(t).where(tuple_(t.c.ts, t.c.id).in_(oldest))
        total = 0
        while True:
            async with self.engine.begin() as conn:
                deleted = (await conn.execute(stmt)).rowcount
            total += deleted
            if deleted < batch:
                break
        await rollups.prune(self.engine, int(before.timestamp()))
        return total

    # -- reading ------------------------------------------------------------------------------
    async def usage(self, query: UsageQuery) -> list[UsageGroup]:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._usage_statement(query))
            rows = result.all()
        out = [_group(row) for row in rows]
        out.sort(key=lambda g: (g.group is None, str(g.group)))
        return out

    def _group_column(self, name: str) -> ColumnElement[Any]:
        if name == "all":
            return literal("all")
        if name == "day":
            if self.postgres:
                return func.to_char(func.timezone("UTC", t.c.ts), "YYYY-MM-DD")
            return func.substr(t.c.ts, 1, 10)
        return t.c[GROUPS[name]]

    def _usage_statement(self, query: UsageQuery) -> Select[Any]:
        """One aggregate per group. Percentiles are ``percentile_disc`` on PostgreSQL; SQLite
        has no ordered-set aggregates, so there each row is ranked with ``cume_dist()`` first
        (the same definition, about four times slower: docs/storage.md)."""
        group = self._group_column(query.group_by).label("g")
        # An A2A task's state-change rows are not calls (they repeat one call's caller).
        conditions = [t.c.ts >= query.start, t.c.ts < query.end, t.c.task_state.is_(None)]
        if query.model is not None:
            conditions.append(t.c.model == query.model)
        percentiles: Sequence[ColumnElement[Any]]
        if self.postgres:
            source: Any = t.c
            percentiles = [
                func.percentile_disc(p).within_group(t.c.latency_ms) for p in PERCENTILES
            ] + [func.percentile_disc(p).within_group(t.c.ttft_ms) for p in PERCENTILES]
            grouped = group
        else:
            no_ttft = t.c.ttft_ms.is_(None)
            ranked = (
                select(
                    group,
                    *(t.c[name] for name in _SUMMED),
                    func.cume_dist().over(partition_by=group, order_by=t.c.latency_ms).label("cl"),
                    func.cume_dist()
                    .over(partition_by=(group, no_ttft), order_by=t.c.ttft_ms)
                    .label("ct"),
                )
                .where(*conditions)
                .subquery()
            )
            source = ranked.c
            percentiles = [
                func.min(case((source.cl >= p, source.latency_ms))) for p in PERCENTILES
            ] + [
                func.min(case((and_(source.ttft_ms.is_not(None), source.ct >= p), source.ttft_ms)))
                for p in PERCENTILES
            ]
            grouped = source.g
            conditions = []
        r = source
        errors = case((or_(r.status >= 400, r.error.is_not(None)), 1), else_=0)
        unpriced = case((and_(r.cost.is_(None), r.input_tokens.is_not(None)), 1), else_=0)
        return (
            select(
                grouped,
                func.count(),
                func.sum(errors),
                func.coalesce(func.sum(r.input_tokens), 0),
                func.coalesce(func.sum(r.output_tokens), 0),
                func.coalesce(func.sum(r.cached_tokens), 0),
                func.coalesce(func.sum(r.reasoning_tokens), 0),
                func.coalesce(func.sum(r.cost), 0.0),
                func.count(r.cost),
                func.sum(unpriced),
                *percentiles,
            )
            .where(*conditions)
            .group_by(grouped)
        )

    async def logs(self, query: LogQuery) -> LogPage:
        limit = min(query.limit, MAX_PAGE)
        stmt = select(*(t.c[name] for name in COLUMNS))
        window: list[ColumnElement[bool]] = []
        if query.start is not None:
            window.append(t.c.ts >= query.start)
        if query.end is not None:
            window.append(t.c.ts < query.end)
        if (c := query.cursor) is not None:
            window.append(t.c.ts <= c.ts)
            window.append(or_(t.c.ts < c.ts, and_(t.c.ts == c.ts, t.c.id < c.id)))
        newest_first = (t.c.ts.desc(), t.c.id.desc())
        boundary: tuple[datetime, str] | None = None
        async with self.engine.connect() as conn:
            if query.bounded and query.scan:
                # The oldest row of the next ``scan`` rows, read from the primary key alone.
                edge = select(t.c.ts, t.c.id).where(*window).order_by(*newest_first)
                found = (await conn.execute(edge.offset(query.scan - 1).limit(1))).first()
                if found is not None:
                    boundary = (found[0], found[1])
                    b_ts, b_id = found[0], found[1]
                    # ``ts >= b_ts`` alone is what lets SQLite range-scan the key; the
                    # row comparison then trims the boundary's own timestamp exactly.
                    window.append(t.c.ts >= b_ts)
                    edge_key = tuple_(literal(b_ts, t.c.ts.type), literal(b_id, t.c.id.type))
                    window.append(tuple_(t.c.ts, t.c.id) >= edge_key)
            stmt = stmt.where(*window)
            for name, value in query.filters.items():
                stmt = stmt.where(t.c[name] == value)
            if query.errors_only:
                stmt = stmt.where(or_(t.c.status >= 400, t.c.error.is_not(None)))
            stmt = stmt.order_by(*newest_first).limit(limit + 1)
            rows = [tuple(r) for r in (await conn.execute(stmt)).all()]
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        cursor = Cursor(_utc(last[TS]), last[1]).encode() if more and last else None
        partial = not more and boundary is not None
        if partial and boundary is not None:
            cursor = Cursor(_utc(boundary[0]), boundary[1]).encode()
        return LogPage([as_dict((_utc(r[TS]), *r[1:])) for r in rows], cursor, partial)

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]:
        return await rollups.read_series(self.engine, query)

    async def histogram(self, start: int, end: int, step: int) -> list[HistogramPoint]:
        return await rollups.read_histogram(self.engine, start, end, step)

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(t))).scalar_one())

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        return None


def _group(row: Any) -> UsageGroup:
    n = len(PERCENTILES)
    values = list(row)
    g = values[0]
    priced, unpriced = int(values[8]), int(values[9] or 0)
    return UsageGroup(
        group=None if g is None else str(g),
        requests=int(values[1]),
        errors=int(values[2] or 0),
        input_tokens=int(values[3]),
        output_tokens=int(values[4]),
        cached_tokens=int(values[5]),
        reasoning_tokens=int(values[6]),
        cost=cost_total(float(values[7]), priced, unpriced),
        unpriced=unpriced,
        latency=tuple(values[10 : 10 + n]),
        ttft=tuple(values[10 + n : 10 + 2 * n]),
    )

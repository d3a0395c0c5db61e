"""The request log on SQL: bulk inserts, the usage aggregate, the paged log, pruning.

Inserts bypass SQLAlchemy's statement layer: fresh rows go to PostgreSQL with ``COPY`` and to
SQLite with one ``executemany``, as tuples (docs/storage.md has the rates). Replays go
through a temporary table and ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL) or
``INSERT OR IGNORE`` (SQLite), so a row spooled twice is stored once.
"""

from __future__ import annotations

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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchyard.storage.query import (
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
from switchyard.storage.rows import COLUMNS, TS, Row, as_dict
from switchyard.storage.sql.engine import is_postgres
from switchyard.storage.sql.tables import request_log as t

_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO request_log ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_PG_REPLAY = (
    "INSERT INTO request_log SELECT * FROM request_log_replay ON CONFLICT (ts, id) DO NOTHING"
)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _sqlite_ts(ts: datetime) -> str:
    """SQLAlchemy's own SQLite datetime format, so Core queries compare and read these."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqlLogStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = is_postgres(engine)

    # -- writing ------------------------------------------------------------------------------
    async def insert(self, rows: list[Row]) -> None:
        if not self.postgres:
            await self.insert_again(rows)
            return
        async with self.engine.connect() as conn:
            driver = await _driver(conn)
            await driver.copy_records_to_table("request_log", records=rows, columns=COLUMNS)
            await conn.commit()

    async def insert_again(self, rows: list[Row]) -> int:
        async with self.engine.connect() as conn:
            driver = await _driver(conn)
            if self.postgres:
                async with driver.transaction():
                    await driver.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS request_log_replay "
                        "(LIKE request_log) ON COMMIT DELETE ROWS"
                    )
                    await driver.copy_records_to_table(
                        "request_log_replay", records=rows, columns=COLUMNS
                    )
                    status: str = await driver.execute(_PG_REPLAY)
                await conn.commit()
                return int(status.rsplit(" ", 1)[-1])
            values = [(_sqlite_ts(r[TS]), *r[1:]) for r in rows]
            cursor = await driver.cursor()
            await cursor.executemany(_SQLITE_INSERT, values)
            new = int(cursor.rowcount)
            await cursor.close()
            await driver.commit()
            return new

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
        group = self._group_column(query.group_by).label("g")
        no_ttft = t.c.ttft_ms.is_(None)
        conditions = [t.c.ts >= query.start, t.c.ts < query.end]
        if query.model is not None:
            conditions.append(t.c.model == query.model)
        ranked = (
            select(
                group,
                t.c.status,
                t.c.error,
                t.c.input_tokens,
                t.c.output_tokens,
                t.c.cached_tokens,
                t.c.reasoning_tokens,
                t.c.cost,
                t.c.latency_ms,
                t.c.ttft_ms,
                func.cume_dist().over(partition_by=group, order_by=t.c.latency_ms).label("cl"),
                func.cume_dist()
                .over(partition_by=(group, no_ttft), order_by=t.c.ttft_ms)
                .label("ct"),
            )
            .where(*conditions)
            .subquery()
        )
        r = ranked.c
        errors = case((or_(r.status >= 400, r.error.is_not(None)), 1), else_=0)
        unpriced = case((and_(r.cost.is_(None), r.input_tokens.is_not(None)), 1), else_=0)
        percentiles = [
            func.min(case((r.cl >= p, r.latency_ms))).label(f"l{i}")
            for i, p in enumerate(PERCENTILES)
        ] + [
            func.min(case((and_(r.ttft_ms.is_not(None), r.ct >= p), r.ttft_ms))).label(f"t{i}")
            for i, p in enumerate(PERCENTILES)
        ]
        return select(
            r.g,
            func.count().label("requests"),
            func.sum(errors).label("errors"),
            func.coalesce(func.sum(r.input_tokens), 0),
            func.coalesce(func.sum(r.output_tokens), 0),
            func.coalesce(func.sum(r.cached_tokens), 0),
            func.coalesce(func.sum(r.reasoning_tokens), 0),
            func.coalesce(func.sum(r.cost), 0.0),
            func.count(r.cost),
            func.sum(unpriced),
            *percentiles,
        ).group_by(r.g)

    async def logs(self, query: LogQuery) -> LogPage:
        limit = min(query.limit, MAX_PAGE)
        stmt = select(*(t.c[name] for name in COLUMNS))
        if query.start is not None:
            stmt = stmt.where(t.c.ts >= query.start)
        if query.end is not None:
            stmt = stmt.where(t.c.ts < query.end)
        for name, value in query.filters.items():
            stmt = stmt.where(t.c[name] == value)
        if (c := query.cursor) is not None:
            stmt = stmt.where(or_(t.c.ts < c.ts, and_(t.c.ts == c.ts, t.c.id < c.id)))
        stmt = stmt.order_by(t.c.ts.desc(), t.c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = [tuple(r) for r in (await conn.execute(stmt)).all()]
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        cursor = Cursor(_utc(last[TS]), last[1]).encode() if more and last else None
        return LogPage([as_dict((_utc(r[TS]), *r[1:])) for r in rows], cursor)

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(t))).scalar_one())

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        return None


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    return raw.driver_connection


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

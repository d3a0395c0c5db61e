"""The rollup tables on SQL: adding a batch's deltas (upserts), reading series back, pruning.

Deltas are added with ``INSERT ... ON CONFLICT (key) DO UPDATE SET x = x + excluded.x`` on
both SQLite and PostgreSQL, in the same transaction as the rows they come from. Rows are sent
in key order, so two replicas adding to the same buckets lock them in the same order and
cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Table, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.storage.rollup import HOUR, MEASURES, MINUTE, Deltas
from turnout.storage.sql.tables import caller_hour, latency_minute, route_hour, route_minute
from turnout.storage.stats import HistogramPoint, SeriesPoint, SeriesQuery

K = TypeVar("K", bound=tuple[Any, ...])
TABLES: dict[str, Table] = {
    "route_minute": route_minute,
    "route_hour": route_hour,
    "caller_hour": caller_hour,
}
_FLOATS = frozenset(("cost", "latency_ms_sum", "ttft_ms_sum"))
_KINDS = tuple(float if name in _FLOATS else int for name in MEASURES)


def _upsert(table: str, keys: Sequence[str], values: Sequence[str], postgres: bool) -> str:
    columns = [*keys, *values]
    marks = (
        ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        if postgres
        else ", ".join("?" for _ in columns)
    )
    sets = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )


def _statements(postgres: bool) -> dict[str, str]:
    route = ("bucket", "model", "provider", "deployment")
    return {
        "route_minute": _upsert("route_minute", route, MEASURES, postgres),
        "route_hour": _upsert("route_hour", route, MEASURES, postgres),
        "caller_hour": _upsert(
            "caller_hour", ("bucket", "gateway_key", "team"), MEASURES, postgres
        ),
        "latency_minute": _upsert(
            "latency_minute", ("bucket", "metric", "bin"), ("count",), postgres
        ),
    }


SQLITE, POSTGRES = _statements(False), _statements(True)


def _typed(values: list[float]) -> tuple[Any, ...]:
    return tuple(kind(v) for kind, v in zip(_KINDS, values, strict=True))


def _rows(table: dict[K, list[float]]) -> list[tuple[Any, ...]]:
    return [(*key, *_typed(table[key])) for key in sorted(table)]


def parameters(deltas: Deltas) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows of parameters in key order) for every table with something to add."""
    out: list[tuple[str, list[tuple[Any, ...]]]] = []
    if deltas.route_minute:
        out.append(("route_minute", _rows(deltas.route_minute)))
    if deltas.route_hour:
        out.append(("route_hour", _rows(deltas.route_hour)))
    if deltas.caller_hour:
        out.append(("caller_hour", _rows(deltas.caller_hour)))
    if deltas.latency_minute:
        hist = deltas.latency_minute
        out.append(("latency_minute", [(*key, hist[key]) for key in sorted(hist)]))
    return out


async def add_sqlite(cursor: Any, deltas: Deltas) -> None:
    """Inside the caller's transaction (an aiosqlite cursor before its commit)."""
    for table, params in parameters(deltas):
        await cursor.executemany(SQLITE[table], params)


async def add_postgres(driver: Any, deltas: Deltas) -> None:
    """Inside the caller's transaction (an asyncpg connection in ``transaction()``)."""
    for table, params in parameters(deltas):
        await driver.executemany(POSTGRES[table], params)


# -- reading ----------------------------------------------------------------------------------
def series_statement(query: SeriesQuery) -> Select[Any]:
    t = TABLES[query.table]
    step = query.step
    bucket = (t.c.bucket - t.c.bucket % step).label("b")
    group: ColumnElement[Any] = (
        literal("") if query.group_by == "all" else t.c[query.group_by]
    ).label("g")
    sums = [func.sum(t.c[name]) for name in MEASURES]
    stmt = select(bucket, group, *sums).where(t.c.bucket >= query.start, t.c.bucket < query.end)
    for name, value in query.filters.items():
        stmt = stmt.where(t.c[name] == value)
    return stmt.group_by(bucket, group)


async def read_series(engine: AsyncEngine, query: SeriesQuery) -> list[SeriesPoint]:
    async with engine.connect() as conn:
        rows = (await conn.execute(series_statement(query))).all()
    return [
        SeriesPoint(
            int(r[0]), str(r[1]), [kind(v or 0) for kind, v in zip(_KINDS, r[2:], strict=True)]
        )
        for r in rows
    ]


async def read_histogram(
    engine: AsyncEngine, start: int, end: int, step: int
) -> list[HistogramPoint]:
    t = latency_minute
    bucket = (t.c.bucket - t.c.bucket % step).label("b")
    stmt = (
        select(bucket, t.c.metric, t.c.bin, func.sum(t.c.count))
        .where(t.c.bucket >= start, t.c.bucket < end)
        .group_by(bucket, t.c.metric, t.c.bin)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [HistogramPoint(int(b), int(m), int(i), int(n)) for b, m, i, n in rows]


async def prune(engine: AsyncEngine, before: int) -> int:
    """Remove buckets that end at or before ``before`` (epoch seconds); returns rows removed."""
    removed = 0
    async with engine.begin() as conn:
        for table, width in (
            (route_minute, MINUTE),
            (latency_minute, MINUTE),
            (route_hour, HOUR),
            (caller_hour, HOUR),
        ):
            stmt = delete(table).where(table.c.bucket <= before - width)
            removed += (await conn.execute(stmt)).rowcount
    return removed

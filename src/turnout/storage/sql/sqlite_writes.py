"""The request log's writes to SQLite: fresh batches and replays, in calls sized for a gateway
that shares one core with SQLite's thread.

Rows go in as tuples through the driver's ``executemany`` (SQLAlchemy's statement layer is
bypassed: docs/storage.md has the rates), in multi-row statements; a replay looks up which
rows are stored already and inserts the others with ``INSERT OR IGNORE``, so a row spooled
twice is stored once. Each batch adds its sums to the rollup tables in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.storage.rollup import Summer, aggregate
from turnout.storage.rows import COLUMNS, TS, Row
from turnout.storage.sql import rollups
from turnout.storage.sql.engine import driver_of

_ONE_ROW = f"({', '.join('?' for _ in COLUMNS)})"
_SQLITE_INSERT = f"INSERT OR IGNORE INTO request_log ({', '.join(COLUMNS)}) VALUES "
# Rows per statement: a multi-row INSERT costs less per row than one row at a time.
_PER_STATEMENT = 20
_SQLITE_ONE = _SQLITE_INSERT + _ONE_ROW
_SQLITE_MANY = _SQLITE_INSERT + ", ".join([_ONE_ROW] * _PER_STATEMENT)
# Rows per call into the connection's thread. That thread inserts without the GIL, but on a
# gateway given one core it still holds the core for the call: one call inserting a whole batch
# (~1,000 rows) kept the event loop waiting ~4.5 ms, and calls of 80 rows, then of 20, still
# showed in the c=1 p99 (docs/measurements.md, "Pauses on the event loop"). Five rows hold the
# core for tens of µs; fewer would pay the call's round trip for too few rows.
_ROWS_PER_CALL = 5
# A batch of more rows than this is a backlog: the writer fell behind (the loop is saturated),
# and small calls, each waiting for a turn of the loop, let the queue grow (~2,700 rows a
# second at 6k req/s on one core). A backlog goes in calls of this many rows.
_BACKLOG = 1000
# Seconds one turn of the event loop may take before it counts as busy (small calls would each
# wait that long): well under 0.1 ms idle or at concurrency 1, several ms serving 64 requests.
_BUSY_TURN = 0.001
_LOOKUP = 400  # timestamps per look-up of already stored rows (SQLite's parameter limit)
# Rows prepared per slice of a replayed batch before the event loop gets a turn: a batch of
# 2,000 rows prepared at once kept requests waiting ~2 ms (the c=1 p99; docs/measurements.md).
PREP_STEP = 128


async def write_fresh(engine: AsyncEngine, rows: list[Row]) -> None:
    """One pass a call (:data:`_ROWS_PER_CALL` rows, a backlog :data:`_BACKLOG`): each
    call's rows are summed for the rollups, converted and inserted, so only one call's
    parameters exist at a time (converting a whole backlog first held two more copies of
    it: the peak RSS under load) and the call itself is the event loop's turn.

    Small calls keep the loop's pauses short when it has time to spare (the c=1 p99); on a
    busy loop every call waits a long turn, and a batch of small ones let the queue (and
    the memory) grow. So one turn of the loop is timed first: over :data:`_BUSY_TURN`,
    the batch goes in backlog-sized calls."""
    big = len(rows) > _BACKLOG
    if not big:
        began = time.perf_counter()
        await asyncio.sleep(0)
        big = time.perf_counter() - began > _BUSY_TURN
    per_call = _BACKLOG if big else _ROWS_PER_CALL
    summer = Summer()
    async with engine.connect() as conn:
        driver = await driver_of(conn)
        cursor = await driver.cursor()
        for i in range(0, len(rows), per_call):
            part = rows[i : i + per_call]
            summer.add(part)
            await _sqlite_insert(cursor, [(_sqlite_ts(r[TS]), *r[1:]) for r in part])
        await rollups.add_sqlite(cursor, summer.deltas())
        await cursor.close()
        await driver.commit()


async def write_again(engine: AsyncEngine, rows: list[Row]) -> int:
    """Replayed rows: only those the database does not hold yet are inserted and summed."""
    values: list[tuple[Any, ...]] = []
    for i in range(0, len(rows), PREP_STEP):  # slices: requests are served in between
        if i:
            await asyncio.sleep(0)
        values.extend([(_sqlite_ts(r[TS]), *r[1:]) for r in rows[i : i + PREP_STEP]])
    async with engine.connect() as conn:
        driver = await driver_of(conn)
        cursor = await driver.cursor()
        # Hold the write lock from the look-up to the commit: nothing else can store one of
        # these rows in between, so the rollups count each row exactly once.
        if not driver.in_transaction:
            await cursor.execute("BEGIN IMMEDIATE")
        stored = await _sqlite_stored(cursor, values)
        keep = [(v[0], v[1]) not in stored for v in values]
        new = [r for r, k in zip(rows, keep, strict=True) if k]
        fresh = [v for v, k in zip(values, keep, strict=True) if k]
        for i in range(0, len(fresh), _BACKLOG):
            await _sqlite_insert(cursor, fresh[i : i + _BACKLOG])
        await rollups.add_sqlite(cursor, aggregate(new))
        await cursor.close()
        await driver.commit()
        return len(new)


async def _sqlite_insert(cursor: Any, values: list[tuple[Any, ...]]) -> None:
    """One call's rows: whole multi-row statements in one ``executemany``, the rest one by one."""
    whole = len(values) - len(values) % _PER_STATEMENT
    if whole:
        flat = [
            tuple(chain.from_iterable(values[i : i + _PER_STATEMENT]))
            for i in range(0, whole, _PER_STATEMENT)
        ]
        await cursor.executemany(_SQLITE_MANY, flat)
    if whole < len(values):
        await cursor.executemany(_SQLITE_ONE, values[whole:])


async def _sqlite_stored(cursor: Any, values: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """(ts, id) of the rows among ``values`` that are stored already (by the primary key)."""
    stamps = sorted({v[0] for v in values})
    found: set[tuple[str, str]] = set()
    for i in range(0, len(stamps), _LOOKUP):
        chunk = stamps[i : i + _LOOKUP]
        marks = ", ".join("?" for _ in chunk)
        await cursor.execute(f"SELECT ts, id FROM request_log WHERE ts IN ({marks})", chunk)
        found.update((ts, row_id) for ts, row_id in await cursor.fetchall())
    return found


_minute = [-1, ""]  # the last minute formatted, and its text


def _sqlite_ts(ts: datetime) -> str:
    """SQLAlchemy's own SQLite datetime text (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), so Core
    queries compare and read these rows; the minute is formatted once per minute (strftime per
    row was a third of a row's insert cost)."""
    us = round(ts.timestamp() * 1_000_000)
    minute, rest = divmod(us, 60_000_000)
    if minute != _minute[0]:
        text = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M:")
        _minute[0], _minute[1] = minute, text
    seconds, micros = divmod(rest, 1_000_000)
    return f"{_minute[1]}{seconds:02d}.{micros:06d}"

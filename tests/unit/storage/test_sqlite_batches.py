"""A batch reaches SQLite's thread in small calls: that thread holds the core while it inserts,
and on a gateway given one core the event loop waits for each call to end. A backlog goes in
calls of 1,000 rows: every call waits for a turn of a saturated loop, and small ones let the
queue grow; each call's parameters are built just before it (never the whole batch's)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from tests.contract.rows import row
from turnout.storage.rows import COLUMNS
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows per call of the request log's inserts into SQLite's thread, in order."""
    seen: list[int] = []
    executemany = aiosqlite.Cursor.executemany

    async def spy(self: aiosqlite.Cursor, sql: str, params: Any) -> aiosqlite.Cursor:
        params = list(params)
        if sql.startswith("INSERT OR IGNORE INTO request_log"):
            seen.append(sum(len(p) for p in params) // len(COLUMNS))
        return await executemany(self, sql, params)

    monkeypatch.setattr(aiosqlite.Cursor, "executemany", spy)
    return seen


@pytest.mark.parametrize(
    ("rows", "calls"),
    [(993, [5] * 198 + [3]), (2510, [1000, 1000, 500, 10])],  # 2,510: a backlog
)
def test_a_batch_goes_in_small_calls_unless_it_is_a_backlog(
    tmp_path: Path,
    sizes: list[int],
    rows: int,
    calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from turnout.storage.sql import sqlite_writes

    # The loop here is idle, but a loaded machine can stretch its one timed turn past the
    # busy mark (993 rows then went in one call): the size rule alone is tested here.
    monkeypatch.setattr(sqlite_writes, "_BUSY_TURN", float("inf"))

    async def run() -> int:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
        try:
            await migrate(engine)
            store = SqlLogStore(engine)
            await store.insert([row(i * 0.001) for i in range(rows)])
            return int(await store.count())
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == rows
    assert sizes == calls


def test_only_one_calls_parameters_exist_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are converted to parameters call by call: when the first call of a backlog runs,
    only its own rows have been converted (not the batch's: that was the peak RSS under load)."""
    from turnout.storage.sql import sqlite_writes

    converted = 0
    seen: list[int] = []
    to_text = sqlite_writes._sqlite_ts

    def counting(ts: Any) -> str:
        nonlocal converted
        converted += 1
        return to_text(ts)

    executemany = aiosqlite.Cursor.executemany

    async def spy(self: aiosqlite.Cursor, sql: str, params: Any) -> aiosqlite.Cursor:
        if sql.startswith("INSERT OR IGNORE INTO request_log"):
            seen.append(converted)
        return await executemany(self, sql, params)

    monkeypatch.setattr(sqlite_writes, "_sqlite_ts", counting)
    monkeypatch.setattr(aiosqlite.Cursor, "executemany", spy)

    async def run() -> tuple[int, dict[str, Any]]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
        try:
            await migrate(engine)
            store = SqlLogStore(engine)
            await store.insert([row(i * 0.001) for i in range(2500)])
            async with engine.connect() as conn:
                sums = (await conn.exec_driver_sql("SELECT SUM(requests) FROM route_minute")).one()
            return int(await store.count()), {"requests": sums[0]}
        finally:
            await engine.dispose()

    count, sums = asyncio.run(run())
    assert count == 2500 and sums == {"requests": 2500}  # every row summed into the rollups
    assert seen == [1000, 2000, 2500]


def test_a_busy_loop_gets_backlog_sized_calls(tmp_path: Path, sizes: list[int]) -> None:
    """On a loop whose turns take long (another task holds it 5 ms at a time), small calls
    would each wait a long turn and let the queue grow: the batch goes in one call."""
    import time

    async def run() -> list[list[int]]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
        seen: list[list[int]] = []
        try:
            await migrate(engine)
            store = SqlLogStore(engine)
            await store.insert([row(i * 0.001) for i in range(200)])  # an idle loop
            seen.append(sizes[:])
            sizes.clear()
            loop = asyncio.get_running_loop()
            busy = [True]

            def hog() -> None:  # a loop serving many requests: every turn holds it 5 ms
                if busy[0]:
                    time.sleep(0.005)
                    loop.call_soon(hog)

            loop.call_soon(hog)
            await store.insert([row(1 + i * 0.001) for i in range(200)])
            busy[0] = False
            seen.append(sizes[:])
            assert int(await store.count()) == 400
        finally:
            await engine.dispose()
        return seen

    idle, busy = asyncio.run(run())
    assert idle == [5] * 40
    assert busy == [200]

"""A batch reaches SQLite's thread in small calls: that thread holds the core while it inserts,
and on a gateway given one core the event loop waits for each call to end. A backlog goes in
one call: every call waits for a turn of a saturated loop, and small ones let the queue grow."""

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


@pytest.mark.parametrize(
    ("rows", "calls"),
    [(1000, [80] * 12 + [40]), (2000, [2000])],  # 2,000: a backlog (the writer fell behind)
)
def test_a_batch_goes_in_small_calls_unless_it_is_a_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, calls: list[int]
) -> None:
    sizes: list[int] = []
    executemany = aiosqlite.Cursor.executemany

    async def spy(self: aiosqlite.Cursor, sql: str, params: Any) -> aiosqlite.Cursor:
        params = list(params)
        if sql.startswith("INSERT OR IGNORE INTO request_log"):
            sizes.append(sum(len(p) for p in params) // len(COLUMNS))
        return await executemany(self, sql, params)

    monkeypatch.setattr(aiosqlite.Cursor, "executemany", spy)

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

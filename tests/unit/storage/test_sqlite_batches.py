"""A large batch reaches SQLite's thread in small calls: that thread holds the core while it
inserts, and on a gateway given one core the event loop waits for each call to end."""

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


def test_a_thousand_rows_go_in_calls_of_at_most_eighty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
            await store.insert([row(i * 0.001) for i in range(1000)])
            return int(await store.count())
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == 1000
    assert sum(sizes) == 1000 and max(sizes) <= 80 and len(sizes) >= 13, sizes

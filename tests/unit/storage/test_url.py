from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from turnout.config.schema import StorageConfig
from turnout.storage.sql.engine import database_url, display, normalize


def test_the_environment_wins_over_the_config() -> None:
    cfg = StorageConfig(url="postgresql://u:p@db/gw")
    assert database_url(cfg, {}) == "postgresql+asyncpg://u:p@db/gw"
    env = {"TURNOUT_DATABASE_URL": "sqlite:///x.db"}
    assert database_url(cfg, env) == "sqlite+aiosqlite:///x.db"


def test_default_and_paths_are_sqlite_files() -> None:
    assert database_url(StorageConfig(), {}) == "sqlite+aiosqlite:///turnout.db"
    assert normalize("/var/lib/sy/gw.db") == "sqlite+aiosqlite:////var/lib/sy/gw.db"
    assert normalize("postgres://h/d") == "postgresql+asyncpg://h/d"


def test_passwords_are_hidden() -> None:
    assert "secret" not in display("postgresql+asyncpg://u:secret@h/d")


def test_every_sqlite_connection_gets_the_gateways_pragmas(tmp_path: Path) -> None:
    """WAL, NORMAL sync and a page cache of SQLITE_CACHE_KIB on each pooled connection (the
    cache is per connection: SQLite's default 2 MB each showed in the peak RSS)."""
    from turnout.storage.sql.engine import SQLITE_CACHE_KIB, make_engine

    async def run() -> list[tuple[Any, ...]]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
        try:
            seen = []
            async with engine.connect() as a, engine.connect() as b:  # two pooled connections
                for conn in (a, b):
                    row = []
                    for pragma in ("journal_mode", "synchronous", "cache_size"):
                        row.append((await conn.exec_driver_sql(f"PRAGMA {pragma}")).scalar())
                    seen.append(tuple(row))
            return seen
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == [("wal", 1, -SQLITE_CACHE_KIB)] * 2


def test_none_and_bools_bind_through_registered_adapters(tmp_path: Path) -> None:
    """The request log's NULLs and flags take sqlite3's registered-adapter path (without one,
    Python 3.11 looks for ``__adapt__``/``__conform__`` per value: 5% of a request's
    instructions) and are stored exactly as before: NULL, 1 and 0."""
    import sqlite3

    from turnout.storage.sql.engine import make_engine

    async def run() -> list[tuple[Any, ...]]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("CREATE TABLE t (a, b, c)")
                await conn.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?)", (None, True, False))
                result = await conn.exec_driver_sql("SELECT a, typeof(a), b, c, typeof(b) FROM t")
                return list(result.all())
        finally:
            await engine.dispose()

    assert [tuple(r) for r in asyncio.run(run())] == [(None, "null", 1, 0, "integer")]
    for kind in (type(None), bool):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters

"""A new SQLite file made in one step (``storage/sql/fresh.py``) is the file the migrations
make: same tables, columns, defaults, keys, indexes and seed rows, at the same revision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from turnout.storage.sql.engine import _upgrade, current_revision, make_engine, migrate, script_head
from turnout.storage.sql.tables import metadata

ASYNC = pytest.mark.asyncio(loop_scope="function")


def _describe(conn: Connection) -> dict[str, Any]:
    """Every table of the file as SQLite itself reports it, with its rows."""
    names = [
        r[0]
        for r in conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        )
    ]
    out: dict[str, Any] = {}
    for name in names:
        indexes = {}
        for index in conn.execute(text(f"PRAGMA index_list('{name}')")).all():
            columns = [c[2] for c in conn.execute(text(f"PRAGMA index_info('{index[1]}')"))]
            indexes[index[1]] = (index[2], index[3], columns)  # unique, origin, columns
        out[name] = {
            "columns": conn.execute(text(f"PRAGMA table_info('{name}')")).all(),
            "foreign_keys": conn.execute(text(f"PRAGMA foreign_key_list('{name}')")).all(),
            "indexes": indexes,
            "rows": sorted(
                map(tuple, conn.execute(text(f"SELECT * FROM '{name}'")).all()), key=repr
            ),
        }
    return out


def _diff(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


@ASYNC
async def test_a_fresh_file_is_what_the_migrations_make(tmp_path: Path) -> None:
    migrated = make_engine(f"sqlite+aiosqlite:///{tmp_path}/migrated.db")
    fresh = make_engine(f"sqlite+aiosqlite:///{tmp_path}/fresh.db")
    try:
        async with migrated.begin() as conn:
            await conn.run_sync(_upgrade, "head")  # every script, one after the other
        assert await migrate(fresh) == (None, script_head())
        async with migrated.connect() as a, fresh.connect() as b:
            assert await a.run_sync(_diff) == []  # the scripts build the declared tables
            want, got = await a.run_sync(_describe), await b.run_sync(_describe)
        assert sorted(got) == sorted(want)
        for name in want:
            assert got[name] == want[name], name
        assert await current_revision(fresh) == await current_revision(migrated)
        assert await migrate(fresh) == (script_head(), script_head())  # current: nothing to do
    finally:
        await migrated.dispose()
        await fresh.dispose()


@ASYNC
async def test_a_file_with_tables_but_no_revision_is_left_to_alembic(tmp_path: Path) -> None:
    # Not blank: a table someone made by hand is not dropped nor taken for the schema.
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/hand.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (body TEXT)"))
            await conn.execute(text("INSERT INTO notes VALUES ('kept')"))
        before, after = await migrate(engine)
        assert (before, after) == (None, script_head())
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT body FROM notes"))).scalar() == "kept"
            assert await conn.run_sync(_diff) != []  # alembic sees the extra table: it ran
    finally:
        await engine.dispose()


def test_a_fresh_file_does_not_import_alembic(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from turnout.storage.sql.engine import make_engine, migrate\n"
        f"e = make_engine('sqlite+aiosqlite:///{tmp_path}/new.db')\n"
        "print(asyncio.run(migrate(e))[1], 'alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].split() == [str(script_head()), "False"]

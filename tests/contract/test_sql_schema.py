"""SQL-only behaviour: migrations agree with the tables queries are written against, run
concurrently without harm, and PostgreSQL's daily partitions come and go."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from tests.contract.pg import asyncpg_url
from tests.contract.rows import row
from turnout.storage.sql import partitions
from turnout.storage.sql.engine import current_revision, make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore
from turnout.storage.sql.tables import metadata

pytestmark = pytest.mark.asyncio(loop_scope="function")


def _not_a_partition(name: str | None, kind: str, parents: Any) -> bool:
    return not (kind == "table" and name is not None and name.startswith("request_log_"))


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"include_name": _not_a_partition})
    return list(compare_metadata(context, metadata))


async def test_migrations_build_exactly_the_declared_tables(backend: dict[str, Any]) -> None:
    if backend["name"] == "memory":
        pytest.skip("SQL only")
    async with backend["engine"].connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_concurrent_migrations_of_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/race.db"
    engines = [make_engine(url) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate(e) for e in engines))
        assert await current_revision(engines[0]) is not None
    finally:
        for e in engines:
            await e.dispose()


async def test_postgres_rows_land_in_daily_partitions(pg_dsn: str) -> None:
    engine = make_engine(asyncpg_url(pg_dsn))
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE request_log"))
        old_day = date(2026, 1, 10)
        made = await partitions.ensure(engine, 2, today=old_day)
        assert made == ["request_log_p20260110", "request_log_p20260111", "request_log_p20260112"]
        assert await partitions.ensure(engine, 2, today=old_day) == []  # idempotent
        ts = datetime(2026, 1, 11, 8, 0, tzinfo=UTC)
        logs = SqlLogStore(engine)
        await logs.insert([row(0, ts=ts), row(0, ts=ts + timedelta(days=30))])
        async with engine.connect() as conn:
            in_day = (
                await conn.execute(text("SELECT count(*) FROM request_log_p20260111"))
            ).scalar()
            default = (
                await conn.execute(text("SELECT count(*) FROM request_log_default"))
            ).scalar()
        assert (in_day, default) == (1, 1)
        dropped = await partitions.drop_before(engine, datetime(2026, 1, 12, tzinfo=UTC))
        assert dropped == ["request_log_p20260110", "request_log_p20260111"]
        assert await logs.count() == 1  # the row of a dropped day went with its partition
        await partitions.drop_before(engine, datetime(2030, 1, 1, tzinfo=UTC))
    finally:
        await engine.dispose()

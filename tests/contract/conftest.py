"""Every storage backend, for the same tests: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.contract.pg import asyncpg_url, fresh_database
from turnout.health.store import MemoryHealthStore
from turnout.storage.memory import MemoryLogStore
from turnout.storage.sql import partitions
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.health import SqlHealthStore
from turnout.storage.sql.logs import SqlLogStore

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    with fresh_database("sycontract") as dsn:
        yield dsn


@pytest_asyncio.fixture(params=BACKENDS, loop_scope="function")
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """``{"logs": LogStore, "health": HealthStore, "engine": AsyncEngine | None}``."""
    if request.param == "memory":
        yield {"name": "memory", "logs": MemoryLogStore(), "health": MemoryHealthStore()}
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/contract.db"
    else:
        url = asyncpg_url(request.getfixturevalue("pg_dsn"))
    engine = make_engine(url)
    await migrate(engine)
    if request.param == "postgres":
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE request_log, health_state, route_minute, route_hour, caller_hour, "
                    "latency_minute"
                )
            )
        await partitions.ensure(engine, 3)
    yield {
        "name": request.param,
        "logs": SqlLogStore(engine),
        "health": SqlHealthStore(engine),
        "engine": engine,
    }
    await engine.dispose()

"""The OAuth account store's contract on every backend (memory, SQLite, PostgreSQL): one lease
holder at a time (also when many race for it), tokens written only under the lease, versions
that grow, invalidation and removal seen by readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.contract.pg import asyncpg_url
from tests.unit.oauth.test_accounts import record
from turnout.oauth.accounts import AccountStore, MemoryAccountStore
from turnout.storage.sql.accounts import SqlAccountStore
from turnout.storage.sql.engine import make_engine, migrate


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres"], loop_scope="function")
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccountStore]:
    if request.param == "memory":
        yield MemoryAccountStore()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/a.db"
    else:
        url = asyncpg_url(request.getfixturevalue("pg_dsn"))
    engine = make_engine(url)
    await migrate(engine)
    if request.param == "postgres":
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE oauth_accounts"))
    yield SqlAccountStore(engine)
    await engine.dispose()


async def test_one_lease_holder_at_a_time(store: AccountStore) -> None:
    await store.add(record())
    assert await store.lease("acct_1", "a", 30) is not None
    assert await store.lease("acct_1", "b", 30) is None  # taken
    assert await store.lease("acct_1", "a", 30) is not None  # ours again
    assert not await store.save_tokens("acct_1", "b", "x", None, None)  # b holds nothing
    before = await store.get("acct_1")
    assert before is not None
    assert await store.save_tokens("acct_1", "a", "sealed-new", "sealed-rt", None)
    after = await store.get("acct_1")
    assert after is not None and after.access_token == "sealed-new"
    assert after.version > before.version and after.lease_owner is None
    assert await store.lease("acct_1", "b", 0.0) is not None  # free after the save
    assert await store.lease("acct_1", "a", 30) is not None  # b's lease ran out at once


async def test_invalidate_delete_and_changes_since(store: AccountStore) -> None:
    await store.add(record("acct_1"))
    await store.add(record("acct_2"))
    seen = max(r.version for r in await store.list())
    assert await store.invalidate("acct_1", None, "invalid_grant: revoked")
    assert await store.delete("acct_2")
    changed = {r.id: r for r in await store.list(seen)}
    assert changed["acct_1"].status == "invalid" and changed["acct_1"].reason
    assert changed["acct_2"].deleted_at is not None
    assert await store.get("acct_2") is None and not await store.delete("acct_2")
    assert "at-1" not in repr(changed["acct_1"]) and "at-1" not in str(changed["acct_1"].public())


async def test_many_racing_for_the_lease_one_wins(store: AccountStore) -> None:
    await store.add(record())
    won = await asyncio.gather(*(store.lease("acct_1", f"owner-{i}", 30) for i in range(8)))
    assert sum(1 for w in won if w is not None) == 1

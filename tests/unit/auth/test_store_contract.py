"""Keys and teams on every backend (memory, SQLite, PostgreSQL) through the same management
functions the admin API and the CLI use, and the change feed replicas follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.contract.pg import asyncpg_url, fresh_database
from tests.contract.rows import row
from turnout.auth import manage
from turnout.auth.credentials import CredentialRecord, MemoryCredentialStore
from turnout.auth.directory import Directory
from turnout.auth.manage import KeyBody, TeamBody
from turnout.auth.store import Conflict, MemoryKeyStore, Missing
from turnout.auth.tokens import digest
from turnout.storage.sql import partitions
from turnout.storage.sql.credentials import SqlCredentialStore
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.keys import SqlKeyStore
from turnout.storage.sql.logs import SqlLogStore

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    with fresh_database("syauth") as dsn:
        yield dsn


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres"], loop_scope="function")
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    if request.param == "memory":
        yield {"name": "memory", "keys": MemoryKeyStore(), "creds": MemoryCredentialStore()}
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    else:
        url = asyncpg_url(request.getfixturevalue("pg_dsn"))
    engine = make_engine(url)
    await migrate(engine)
    if request.param == "postgres":
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE gateway_keys, teams, provider_credentials, request_log, "
                    "signed_out_sessions"
                )
            )
        await partitions.ensure(engine, 3)
    yield {
        "name": request.param,
        "keys": SqlKeyStore(engine),
        "creds": SqlCredentialStore(engine),
        "logs": SqlLogStore(engine),
    }
    await engine.dispose()


async def test_keys_lifecycle_and_change_feed(stores: dict[str, Any]) -> None:
    store = stores["keys"]
    start = (await store.changes(-1)).version
    await manage.create_team(store, TeamBody(name="search", models=["gpt-*"], rpm=100))
    secret, key = await manage.create_key(
        store,
        KeyBody(
            team="search",
            name="ci",
            models=["gpt-4o*"],
            tpm=5000,
            budget=12.5,
            budget_period="week",
            model_limits={"gpt-4o": {"rpm": 5}},
            metadata={"owner": "a@b"},
            expires_in="30d",
        ),
    )
    assert secret.startswith("sk-sy-") and key.hash == digest(secret).hex()
    assert secret not in repr(key) and secret not in str(key.public())
    got = await store.get_key(key.id)
    assert got is not None
    assert got.team == "search" and got.models == ("gpt-4o*",) and got.limits.tpm == 5000
    assert got.budget is not None and (got.budget.amount, got.budget.period) == (12.5, "week")
    assert got.model_limits[0][0] == "gpt-4o" and got.model_limits[0][1].rpm == 5
    assert got.metadata == {"owner": "a@b"}
    assert got.expires_at is not None
    assert timedelta(days=29) < got.expires_at - datetime.now(UTC) <= timedelta(days=30)

    changes = await store.changes(start)
    assert [k.id for k in changes.keys] == [key.id] and [t.name for t in changes.teams] == [
        "search"
    ]
    assert changes.version > start
    assert (await store.changes(changes.version)).keys == []  # nothing new: nothing read

    updated = await manage.update_key(store, key.id, KeyBody(rpm=7, tpm=None))
    assert updated.limits.rpm == 7 and updated.limits.tpm is None and updated.models == ("gpt-4o*",)
    revoked = await manage.revoke_key(store, key.id)
    assert revoked.revoked and revoked.public()["status"] == "revoked"
    feed = await store.changes(changes.version)
    assert [k.id for k in feed.keys] == [key.id] and feed.keys[0].revoked


async def test_rules_for_teams(stores: dict[str, Any]) -> None:
    store = stores["keys"]
    with pytest.raises(manage.Invalid):
        await manage.create_key(store, KeyBody(team="nobody"))
    await manage.create_team(store, TeamBody(name="t1", budget=3))
    with pytest.raises(Conflict):
        await manage.create_team(store, TeamBody(name="t1"))
    _, key = await manage.create_key(store, KeyBody(team="t1"))
    with pytest.raises(Conflict):
        await manage.delete_team(store, "t1")
    deleted = await manage.delete_team(store, "t1", revoke_keys=True)
    assert not deleted.active
    assert (await store.get_key(key.id)).revoked
    again = await manage.create_team(store, TeamBody(name="t1", rpm=1))  # the name is free again
    assert again.active and again.limits.rpm == 1 and again.budget is None
    with pytest.raises(Missing):
        await manage.update_key(store, "key_missing", KeyBody(rpm=1))


async def test_concurrent_writers_get_distinct_versions(stores: dict[str, Any]) -> None:
    store = stores["keys"]
    start = (await store.changes(-1)).version
    created = await asyncio.gather(*(manage.create_key(store, KeyBody()) for _ in range(8)))
    versions = sorted(k.version for _, k in created)
    assert len(set(versions)) == 8 and versions[0] > start
    assert len((await store.changes(start)).keys) == 8


async def test_spend_from_the_request_log(stores: dict[str, Any]) -> None:
    if stores["name"] == "memory":
        assert await stores["keys"].spend(datetime.now(UTC), ["k"], ["t"]) == ({}, {})
        return
    logs = stores["logs"]
    now = datetime.now(UTC)
    made = [("key_a", 0.5, 1), ("key_a", 0.25, 2), ("key_b", 1.0, 1), ("key_a", 9.0, 999)]
    rows = [
        row(i, ts=now - timedelta(hours=age), gateway_key=key, team="t", cost=cost)
        for i, (key, cost, age) in enumerate(made)
    ]
    await logs.insert(rows)
    by_key, by_team = await stores["keys"].spend(now - timedelta(days=1), ["key_a", "key_b"], ["t"])
    assert by_key == pytest.approx({"key_a": 0.75, "key_b": 1.0})
    assert by_team == pytest.approx({"t": 1.75})


async def test_credentials_store_sealed_values_only(stores: dict[str, Any]) -> None:
    creds = stores["creds"]
    record = CredentialRecord(id="cred_1", provider="openai", mask="sk-…abcd", secret="v1.x.y")
    await creds.add(record)
    listed = await creds.list()
    assert [(r.id, r.secret, r.mask) for r in listed] == [("cred_1", "v1.x.y", "sk-…abcd")]
    assert await creds.delete("cred_1") and not await creds.delete("cred_1")
    assert await creds.list() == []


async def test_directory_follows_the_store(stores: dict[str, Any]) -> None:
    store = stores["keys"]
    directory = Directory()
    directory.apply(await store.changes(directory.version))
    assert directory.loaded and not directory.any_keys
    await manage.create_team(store, TeamBody(name="blue", models=["a-*"], tpm=10))
    secret, key = await manage.create_key(store, KeyBody(team="blue", models=["a-1", "b-1"]))
    changed = directory.apply(await store.changes(directory.version))
    assert changed
    principal = directory.lookup(secret.encode())
    assert principal is not None and principal.team == "blue"
    assert principal.allows("a-1") and not principal.allows("b-1")  # key and team must agree
    plan = principal.plan("a-1")
    assert plan is not None and [r.scope for r in plan.rules] == ["t:blue"]
    await manage.revoke_key(store, key.id)
    directory.apply(await store.changes(directory.version))
    assert directory.lookup(secret.encode()) is None
    assert directory.any_keys  # revoking the last key does not switch authentication off


async def test_sign_outs_are_in_the_change_feed_until_they_expire(stores: dict[str, Any]) -> None:
    """Every process's directory hears of a dashboard session signed out anywhere, a process
    started later too; one whose session has expired is no longer read (nor kept, on SQL)."""
    store = stores["keys"]
    now = int(datetime.now(UTC).timestamp())
    heard: list[tuple[str, int]] = []
    directory = Directory()
    directory.on_sign_out.append(lambda sid, expires: heard.append((sid, expires)))
    directory.apply(await store.changes(directory.version))
    await store.sign_out("sid-live", now + 3600)
    await store.sign_out("sid-stale", now - 1)
    directory.apply(await store.changes(directory.version))
    assert heard == [("sid-live", now + 3600)]
    later: list[str] = []
    fresh = Directory()
    fresh.on_sign_out.append(lambda sid, expires: later.append(sid))
    fresh.apply(await store.changes(fresh.version))
    assert later == ["sid-live"]
    await store.sign_out("sid-live", now + 3600)  # signed out twice: one row, no error
    directory.apply(await store.changes(directory.version))
    assert heard[-1] == ("sid-live", now + 3600)

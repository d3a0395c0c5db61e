"""Which backend serves a storage URL is decided in one place (turnout.storage.backends)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from turnout.auth.build import stores_for
from turnout.auth.credentials import MemoryCredentialStore
from turnout.auth.store import MemoryKeyStore
from turnout.config.schema import StorageConfig
from turnout.storage import Storage
from turnout.storage.backends import BACKENDS, MEMORY, SQL, backend_for
from turnout.storage.memory import MemoryLogStore
from turnout.storage.sql.engine import normalize

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.mark.parametrize(
    ("raw", "backend"),
    [
        ("memory://", MEMORY),
        ("memory://anything", MEMORY),
        ("turnout.db", SQL),
        ("sqlite:///x.db", SQL),
        ("postgresql://u@h/db", SQL),
    ],
)
async def test_one_backend_per_url(raw: str, backend: object) -> None:
    assert backend_for(normalize(raw)) is backend
    assert BACKENDS[-1] is SQL  # the last resort takes any URL


async def test_memory_backend_keeps_everything_in_the_process(tmp_path: object) -> None:
    storage = Storage(StorageConfig(spool_dir=str(tmp_path)), "memory://")
    assert storage.engine is None and not storage.backend.shared
    assert isinstance(storage.logs, MemoryLogStore)
    keys, credentials = stores_for(storage)
    assert isinstance(keys, MemoryKeyStore) and isinstance(credentials, MemoryCredentialStore)
    assert await MEMORY.saved_credentials("memory://", 1.0) == []


async def test_sql_backend_opens_every_store_on_one_engine(tmp_path: object) -> None:
    url = normalize(f"{tmp_path}/t.db")
    storage = Storage(StorageConfig(spool_dir=str(tmp_path)), url)
    try:
        assert storage.backend is SQL and storage.backend.shared
        keys, credentials = stores_for(storage)
        for store in (storage.logs, storage.health, keys, credentials):
            assert cast(Any, store).engine is storage.engine
        assert await SQL.saved_credentials(normalize(f"{tmp_path}/none.db"), 1.0) == []
    finally:
        assert storage.engine is not None
        await storage.engine.dispose()

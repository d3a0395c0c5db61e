"""Storage backends by URL: which one serves a ``storage.url`` is decided here and nowhere else.

=================  ===========================================================================
``memory://``      everything in this process (tests, demos): rows, health, keys and stored
                   credentials last as long as the process, and no other process sees them
anything else      SQLAlchemy (a SQLite file or PostgreSQL), migrated by Alembic on start
=================  ===========================================================================

A backend is a :class:`StorageBackend`: its name, the URL schemes it serves, whether another
process (the CLI, a replica) can reach the same data, how it opens the stores, and how it reads
stored provider credentials before the gateway starts. Adding one is a module with its stores
and one entry in :data:`BACKENDS`, tried in order (the SQL backend last: it takes any URL).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from turnout.auth.credentials import CredentialRecord, CredentialStore
    from turnout.auth.store import KeyStore
    from turnout.batches.store import BatchStore
    from turnout.conversations.store import ConversationStore
    from turnout.health.store import HealthStore
    from turnout.live.store import ManagedStore
    from turnout.openai_batches.store import ObjectStore
    from turnout.storage.ports import LogStore


@dataclass(slots=True)
class Stores:
    """Everything one opened backend keeps: the request log, persisted health, gateway keys
    and provider credentials (``engine`` for SQL upkeep: migrations, partitions)."""

    logs: LogStore
    health: HealthStore
    keys: KeyStore
    credentials: CredentialStore
    engine: AsyncEngine | None = None
    managed: ManagedStore | None = None  # providers and models of the admin API (turnout.live)
    # Responses conversation state (turnout.conversations); None: the step's memory store.
    conversations: ConversationStore | None = None
    # Message Batch owners (turnout.batches); None: the service's memory store.
    batches: BatchStore | None = None
    # OpenAI batch files and batches (turnout.openai_batches); None: the service's memory store.
    openai_batches: ObjectStore | None = None


@dataclass(frozen=True, slots=True)
class StorageBackend:
    name: str
    schemes: tuple[str, ...]  # URL schemes served; () serves any URL (the last resort)
    shared: bool  # another process (the CLI, a replica) reaches the same data
    open: Callable[[str], Stores]
    saved_credentials: Callable[[str, float], Coroutine[Any, Any, list[CredentialRecord]]]
    # What makes a URL unusable by this backend, read before start-up (None: fine).
    problem: Callable[[str], str | None] = lambda url: None

    def serves(self, url: str) -> bool:
        return not self.schemes or url.partition("://")[0] in self.schemes


def _open_memory(url: str) -> Stores:
    from turnout.auth.credentials import MemoryCredentialStore
    from turnout.auth.store import MemoryKeyStore
    from turnout.health.store import MemoryHealthStore
    from turnout.live.store import MemoryManagedStore
    from turnout.storage.memory import MemoryLogStore

    return Stores(
        MemoryLogStore(),
        MemoryHealthStore(),
        MemoryKeyStore(),
        MemoryCredentialStore(),
        managed=MemoryManagedStore(),
    )


async def _no_credentials(url: str, seconds: float) -> list[CredentialRecord]:
    return []  # a memory database is empty before its gateway starts


def _open_sql(url: str) -> Stores:
    from turnout.openai_batches.sql import SqlObjectStore
    from turnout.storage.sql.batches import SqlBatchStore
    from turnout.storage.sql.conversations import SqlConversationStore
    from turnout.storage.sql.credentials import SqlCredentialStore
    from turnout.storage.sql.engine import make_engine
    from turnout.storage.sql.health import SqlHealthStore
    from turnout.storage.sql.keys import SqlKeyStore
    from turnout.storage.sql.logs import SqlLogStore
    from turnout.storage.sql.managed import SqlManagedStore

    engine = make_engine(url)
    return Stores(
        SqlLogStore(engine),
        SqlHealthStore(engine),
        SqlKeyStore(engine),
        SqlCredentialStore(engine),
        engine,
        SqlManagedStore(engine),
        SqlConversationStore(engine),
        SqlBatchStore(engine),
        SqlObjectStore(engine),
    )


async def _sql_credentials(url: str, seconds: float) -> list[CredentialRecord]:
    from turnout.storage.sql.credentials import load_saved

    return await load_saved(url, seconds)


def _sql_problem(url: str) -> str | None:
    from turnout.storage.sql.engine import url_problem

    return url_problem(url)


MEMORY = StorageBackend("memory", ("memory",), False, _open_memory, _no_credentials)
SQL = StorageBackend("sql", (), True, _open_sql, _sql_credentials, _sql_problem)
BACKENDS: tuple[StorageBackend, ...] = (MEMORY, SQL)


def backend_for(url: str) -> StorageBackend:
    """The backend serving ``url`` (a normalized database URL)."""
    for backend in BACKENDS:
        if backend.serves(url):
            return backend
    raise AssertionError("the SQL backend serves any URL")

"""Engines, URLs and migrations.

One URL picks the backend: ``postgresql+asyncpg://`` for many replicas, SQLite (a file, made
on first start) for one process. Both are migrated by Alembic on start; several processes may
start at once (``serve --workers N``, replicas), so the upgrade runs under a lock: an advisory
lock on PostgreSQL, a file lock beside a SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError

from turnout.observability.slog import structlog

if TYPE_CHECKING:
    from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from turnout.config.schema import StorageConfig
from turnout.storage.sql.fresh import blank, create

log = structlog.get_logger("turnout.storage")
ENV = "TURNOUT_DATABASE_URL"
DEFAULT_PATH = "turnout.db"
_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
_MIGRATION_LOCK = 0x5377_6974_6368  # any constant shared by every Turnout process
_FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"


def database_url(config: StorageConfig, environ: Mapping[str, str] = os.environ) -> str:
    """The URL to use: the environment wins over the config; a bare path is a SQLite file."""
    return normalize(environ.get(ENV) or config.url or DEFAULT_PATH)


def normalize(raw: str) -> str:
    if "://" not in raw:
        return f"sqlite+aiosqlite:///{raw}"
    scheme, rest = raw.split("://", 1)
    return f"{_SCHEMES.get(scheme, scheme)}://{rest}"


def display(url: str) -> str:
    """The URL with its password hidden, for logs and CLI output."""
    return make_url(url).render_as_string(hide_password=True)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


async def driver_of(conn: AsyncConnection) -> Any:
    """The driver's own connection under a SQLAlchemy one (asyncpg's, aiosqlite's): bulk
    writes go through it, past SQLAlchemy's statement layer."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


# What the gateway runs on: SQLite and PostgreSQL through their asyncio drivers.
_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})


def url_problem(url: str) -> str | None:
    """What makes ``url`` (normalized) no database the gateway can open, or None; read before
    anything starts, so a typo is a configuration error and not a traceback at start-up."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a database URL (expected postgresql://…, sqlite:///PATH or a file path)"
    if parsed.drivername not in _DRIVERS:  # read as written: naming a dialect imports it
        return (
            f"unsupported database {display(url)!r}: use postgresql:// (asyncpg), "
            "sqlite:/// (aiosqlite) or memory://"
        )
    return None


def make_engine(url: str) -> AsyncEngine:
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        _cheap_binds()
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return create_async_engine(
            url,
            pool_size=4,
            max_overflow=4,
            pool_timeout=5,
            pool_pre_ping=True,  # a restarted server leaves dead connections in the pool
            connect_args={
                "timeout": 5,
                "command_timeout": 60,
                "server_settings": {"application_name": "turnout"},
            },
        )
    raise AssertionError(f"unchecked database backend {backend!r}")


# Page cache per connection, in KiB (SQLite's default is 2,000). Each pooled connection
# fills its own; what the writer touches (the right edge of the request log's B-trees, the
# rollup rows) fits in far less, and scans are served by the OS's cache as well. 512 KiB:
# peak RSS under load 1.3-1.8 MB lower (docs/measurements.md, "Memory").
SQLITE_CACHE_KIB = 512


# The adapter of NULL: a C-level call that answers None for None.
_NULL: dict[None, None] = {}


def _cheap_binds() -> None:
    """Adapters for the request log's ``None`` and ``bool`` values, which bind as they would
    without (NULL, 0/1) but cheaper. On Python 3.11 the sqlite3 module adapts every value that
    is not exactly an int, float, str or bytearray: with no adapter registered for its type,
    it asks the protocol type for ``__adapt__`` (a formatted AttributeError, then cleared)
    and the value for ``__conform__`` before binding it as it is, ~2,000 instructions per
    value. A request-log row holds about a dozen of them: 37,000 instructions per request,
    5% of the gateway's (``bench/instructions.py``; docs/measurements.md). A registered
    adapter is one dict look-up and one C call. sqlite3's adapters are the process's; these
    two change no value, so other users of the module see the same results."""
    sqlite3.register_adapter(type(None), _NULL.get)
    sqlite3.register_adapter(bool, int)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the admin API read while the writer writes; NORMAL is durable across process
    # crashes (only an OS crash can lose the last transactions).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def alembic_config() -> Config:
    from alembic.config import Config  # imported on use: alembic adds ~0.2 s to every start

    cfg = Config()
    cfg.set_main_option("script_location", "turnout:migrations")
    cfg.set_main_option("file_template", _FILE_TEMPLATE)
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


_SCRIPT_LINE = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\b[^=\n]*= *(None|\"(\w+)\")\s*$", re.M
)


def script_head() -> str | None:
    """The one head of the migration scripts, read from their text; None when any script
    does not say plainly (a merge, a branch label: alembic decides then). Why not alembic's
    own: its script loading imports alembic and mako, ~10 MB kept for the process's life, on
    every start where the schema is already current (docs/measurements.md#memory)."""
    versions = Path(__file__).resolve().parent.parent.parent / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        if script.name == "__init__.py":
            continue
        found = {m[1]: m[3] for m in _SCRIPT_LINE.finditer(script.read_text(encoding="utf-8"))}
        if not found.get("revision") or len(found) != 4 or found["branch_labels"]:
            return None
        if found["depends_on"]:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _stamped(connection: Connection) -> str | None:
    """The database's one revision, read without alembic (None: none, or several)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


async def migrate(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; safe to call from many processes at once.
    Returns the revisions before and after."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line of ours instead
    async with _file_lock(engine), engine.begin() as conn:
        if is_postgres(engine):
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        head = script_head() if revision == "head" else None
        if head is not None:
            stamped = await conn.run_sync(_stamped)
            if stamped == head:
                return head, head  # current already: alembic is not even imported
            if stamped is None and sqlite_path(str(engine.url)) and await conn.run_sync(blank):
                await conn.run_sync(create, head)  # a new file: the head in one step
                log.info("database created", url=display(str(engine.url)), revision=head)
                return None, head
        before = await conn.run_sync(_current)
        await conn.run_sync(_upgrade, revision)
        after = await conn.run_sync(_current)
    if before != after:
        log.info("database migrated", url=display(str(engine.url)), before=before, after=after)
    return before, after


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


@contextlib.asynccontextmanager
async def _file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    path = sqlite_path(str(engine.url))
    if path is None:
        yield
        return
    fd = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock

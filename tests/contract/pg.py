"""PostgreSQL for tests: the machine's server (a fresh database per use) or a private one.

Tests that need PostgreSQL call :func:`require_postgres`: skipped when it is unreachable,
failed instead when ``CI`` is set (a CI run must not go green by skipping them).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import asyncpg
import pytest

HOST, PORT = "127.0.0.1", 5432
ADMIN_DSN = f"postgresql://postgres@{HOST}:{PORT}/test"


def _reachable(host: str | None = None, port: int | None = None) -> bool:
    try:
        with socket.create_connection((host or HOST, port or PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if _reachable():
        return
    message = f"PostgreSQL is not reachable at {HOST}:{PORT}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: PostgreSQL tests must run)")
    pytest.skip(message)


async def _admin(sql: str, dsn: str = ADMIN_DSN) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def admin(sql: str, dsn: str = ADMIN_DSN) -> None:
    """Run one statement, from sync code, whether or not an event loop runs in this thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin(sql, dsn)).result()


def asyncpg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@contextmanager
def fresh_database(prefix: str = "sy") -> Iterator[str]:
    """A new, empty database on the shared server; dropped afterwards. Yields its DSN."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{HOST}:{PORT}/{name}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_bin(name: str) -> str:
    for candidate in (
        shutil.which(name),
        *sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}")),
    ):
        if candidate:
            return str(candidate)
    pytest.skip(f"{name} not found") if not os.environ.get("CI") else pytest.fail(f"{name} missing")
    raise AssertionError  # unreachable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temp dir, a free port), to stop and start at
    will without touching the shared one. Runs as the ``postgres`` user when we are root."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sy-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.dsn = f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        opts = f"-p {self.port} -h {HOST} -k {self.dir} -c fsync=off"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        deadline = time.monotonic() + 10
        while not _reachable(HOST, self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("private PostgreSQL did not start")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

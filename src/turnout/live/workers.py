"""``--workers N``: every worker applies the same config, and says which one it runs.

Each worker reloads by itself (it watches the file, and handles SIGHUP); what they need from
each other is small:

- a **status directory**, made by the supervising process: each worker writes one small JSON
  file (its pid, version, loaded-at, last error) whenever its state changes, so
  ``GET /admin/config`` on any worker lists them all;
- **SIGHUP fan-out**: the supervisor forwards a SIGHUP to every worker (uvicorn's own
  supervisor would restart them, from the config checked at start), and a worker that took
  ``POST /admin/config/reload`` sends SIGHUP to the supervisor so the others reload too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from turnout.observability.logging import get_logger

STATUS_ENV = "TURNOUT_WORKER_STATUS"
SUPERVISOR_ENV = "TURNOUT_SUPERVISOR_PID"


def status_dir() -> Path | None:
    value = os.environ.get(STATUS_ENV)
    return Path(value) if value else None


def write_status(directory: Path, status: dict[str, Any]) -> None:
    """This worker's status, replaced atomically (a reader never sees half a file)."""
    pid = os.getpid()
    body = json.dumps({"pid": pid, **status}).encode()
    tmp = directory / f".{pid}.tmp"
    with contextlib.suppress(OSError):
        tmp.write_bytes(body)
        tmp.replace(directory / f"{pid}.json")


def read_statuses(directory: Path) -> list[dict[str, Any]]:
    """Every live worker's status (files of workers that have exited are removed)."""
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        try:
            status = json.loads(path.read_bytes())
            pid = int(status["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        out.append(status)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def loaded_sibling(directory: Path) -> bool:
    """Whether another live worker serves with the database's state loaded (``loaded``)."""
    me = os.getpid()
    return any(s.get("loaded") and s["pid"] != me for s in read_statuses(directory))


async def hold_while_siblings_serve(
    directory: Path, loaded: Callable[[], bool], stopping: Callable[[], bool]
) -> bool:
    """A worker started while the database is down (the supervisor replaced one that died)
    has no gateway keys and no stored providers: serving, it would refuse every key with 503
    while its siblings, which loaded them before the outage, serve them. So it waits, not yet
    accepting connections, until it has loaded them too, for as long as a sibling that has is
    alive; alone (every worker starting together, or its siblings gone) it serves at once,
    refusing keys until the database answers, as a single process does. True if it waited."""
    waited = False
    while not loaded() and not stopping() and loaded_sibling(directory):
        waited = True
        await asyncio.sleep(0.1)
    return waited


async def join(
    directory: Path,
    reloader: Any,
    loaded: Callable[[], bool],
    stopping: Callable[[], bool],
    spawn: Callable[[Any], None],
) -> None:
    """Say this worker's state (its config version, whether it has ``loaded`` the database's
    keys and providers) now and on every change; one replacing a worker while the database
    is down waits for them before accepting connections (:func:`hold_while_siblings_serve`)."""

    def write() -> None:
        write_status(directory, {**reloader.status(), "loaded": loaded()})

    reloader.on_change.append(write)
    write()
    if await hold_while_siblings_serve(directory, loaded, stopping):
        get_logger("turnout.live").info(
            "worker serves: the database's keys and providers are loaded"
        )
    if not loaded():  # say so once they are, for a replacement to wait on
        spawn(once_loaded(loaded, write))


async def once_loaded(loaded: Callable[[], bool], then: Callable[[], None]) -> None:
    """Call ``then`` once ``loaded`` holds (the worker's status says so, for a replacement)."""
    while True:
        if loaded():
            then()
            return
        await asyncio.sleep(0.25)


def notify_supervisor() -> bool:
    """Ask the supervisor to pass a SIGHUP to every worker; False when there is none."""
    value = os.environ.get(SUPERVISOR_ENV)
    if not value or int(value) == os.getpid():
        return False
    try:
        os.kill(int(value), signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True


def prepare_supervisor() -> Path:
    """In the supervising process, before the workers start: the status directory and the
    environment the workers inherit."""
    directory = Path(tempfile.mkdtemp(prefix="turnout-workers-"))
    os.environ[STATUS_ENV] = str(directory)
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    return directory


def run_workers(config: Any, directory: Path) -> None:
    """uvicorn's multi-process supervisor, with SIGHUP passed on to the workers instead of
    restarting them (a restart would serve the config checked at start, not the file)."""
    import shutil

    from uvicorn.supervisors.multiprocess import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            for process in self.processes:
                if process.pid is not None:
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGHUP)

        # Stopping: the supervisor lets go of the listening socket at once. The workers
        # close theirs as they start draining, and while the supervisor still held one the
        # kernel kept completing connections nobody would accept: a new client (a load
        # balancer's readiness probe among them) hung for the whole drain, then was reset,
        # instead of being refused at once as by a single process (docs/reliability.md).
        def handle_term(self) -> None:
            super().handle_term()
            _close(self.sockets)

        def handle_int(self) -> None:
            super().handle_int()
            _close(self.sockets)

        def handle_break(self) -> None:  # pragma: no cover - Windows
            super().handle_break()
            _close(self.sockets)

    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


def _close(sockets: list[Any]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def wait_for_version(directory: Path, version: str, timeout: float) -> list[dict[str, Any]]:
    """The workers' statuses once all run ``version`` (or when ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = read_statuses(directory)
        if all(s.get("version") == version for s in statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)

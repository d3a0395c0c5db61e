"""``turnout serve --workers N`` under faults: the supervisor and its workers as real processes,
judged by the OpenAI SDK and plain sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.contract.pg import PrivatePostgres, asyncpg_url
from tests.integration.test_auth import ADMIN, MASTER
from tests.support.procs import PYTHON, Proc, mock_provider, start_gateway
from tests.support.wait import found, until
from tests.unit.cache.redis_support import PrivateRedis

pytestmark = pytest.mark.timeout(240)

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _config(mock: Proc, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock", "model": "up"}]}},
        **extra,
    }


@contextlib.contextmanager
def workers(
    config: dict[str, Any], tmp: Path, n: int = 2, env: dict[str, str] | None = None
) -> Iterator[Proc]:
    gw = start_gateway(config, tmp, "--workers", str(n), env=env, ready_within=120)
    try:
        yield gw
    finally:  # the supervisor and its workers (a SIGKILL to the supervisor alone orphans them)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(gw.popen.pid, signal.SIGKILL)
        gw.stop()


def refused(port: int) -> bool:
    """True when a new connection to the gateway's port is refused (or reset at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return conn.recv(1) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except TimeoutError:  # accepted by the kernel, answered by nobody: what this test forbids
        return False


def test_a_stopping_supervisor_refuses_new_connections_while_streams_drain(
    mock: Proc, tmp_path: Path
) -> None:
    """Before: the supervisor kept its copy of the listening socket open until every worker had
    drained, so the kernel went on completing connections no worker would accept; a new client
    (a readiness probe among them) hung for the whole drain (8.2 s for an 8 s stream) and was
    then reset. A single process refuses them at once; N workers now do too."""
    with workers(_config(mock, server={"drain_timeout": 120}), tmp_path) as gw:
        client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
        # 40 frames a quarter of a second apart, read as they come: the stream outlives the
        # wait for the refusal (checked: a frame still arrives after it).
        stream = client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-tokens": "40", "x-mock-chunk-ms": "250"},
        )
        frames = iter(stream)
        next(frames)
        arrived: list[tuple[float, str | None]] = []

        def read() -> None:
            for chunk in frames:
                reason = chunk.choices[0].finish_reason if chunk.choices else None
                arrived.append((time.monotonic(), reason))

        reader = threading.Thread(target=read)
        reader.start()
        gw.signal(signal.SIGTERM)
        until(lambda: refused(gw.port), 20, step=0.1)
        refused_at = time.monotonic()
        reader.join(60)
        # The stream in flight still finishes, whole, and the supervisor exits 0.
        assert not reader.is_alive()
        assert [r for _, r in arrived if r] in (["length"], ["stop"]), arrived
        assert any(at > refused_at and not r for at, r in arrived), "drained before the refusal"
        assert gw.popen.wait(60) == 0


def statuses(gw: Proc) -> list[dict[str, Any]]:
    """Every worker's status (pid, config version, ``loaded``), from whichever answers."""
    body = httpx.get(gw.url + "/admin/config", headers=ADMIN, timeout=10).json()
    found: list[dict[str, Any]] = body["live"]["workers"]
    return found


def fresh_connections(gw: Proc, key: str) -> openai.OpenAI:
    """A client opening a new connection per call, so calls spread over the workers."""
    return openai.OpenAI(
        api_key=key,
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={"connection": "close"},
    )


def test_a_worker_replaced_while_the_database_is_down_serves_the_keys_its_siblings_do(
    mock: Proc, pg: PrivatePostgres, tmp_path: Path
) -> None:
    """Before: the supervisor's replacement for a worker that died during a database outage
    started with no gateway keys and served anyway, answering 503 ``auth_unavailable`` to
    every key its siblings were serving (17 of 40 calls). Now it waits, not accepting
    connections, until it has loaded them, as long as a sibling that has is serving."""
    cfg = _config(mock, storage={"flush_interval": 0.05})
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_DATABASE_URL": asyncpg_url(pg.dsn)}
    # Made before the gateway starts, so both workers hold it (one made through the admin API
    # reaches the other worker at its next poll of the database).
    made = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "keys", "create", "--rpm", "100000"],
        env={**os.environ, "TURNOUT_DATABASE_URL": asyncpg_url(pg.dsn)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    with workers(cfg, tmp_path, env=env) as gw:
        until(lambda: [s.get("loaded", 1) for s in statuses(gw)] == [True, True], 60, step=0.1)
        client = fresh_connections(gw, made.stdout.split()[-1])
        pg.stop("fast")
        victim = statuses(gw)[0]["pid"]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            pids = {s["pid"] for s in statuses(gw)}
            return len(pids) == 2 and victim not in pids

        until(replaced, 60, step=0.1)  # the replacement has written its status: it started
        for _ in range(100):  # one of its siblings answers every call; it is not among them
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert sorted(s["loaded"] for s in statuses(gw)) == [False, True]
        pg.start()
        until(lambda: [s["loaded"] for s in statuses(gw)] == [True, True], 60, step=0.1)
        until(lambda: "worker serves: the database's keys" in gw.output(), 30)
        for _ in range(40):
            client.chat.completions.create(model="m", messages=MESSAGES)
        # Held again, a replacement does not hold up a stop: the supervisor exits 0.
        pg.stop("fast")
        victim = statuses(gw)[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        until(replaced, 60, step=0.1)
        gw.signal(signal.SIGTERM)
        assert gw.popen.wait(60) == 0


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


def test_a_killed_workers_slot_is_freed_without_waiting_a_quarter_of_an_hour(
    mock: Proc, redis: PrivateRedis, tmp_path: Path
) -> None:
    """Before: the slot of a stream whose worker was killed (SIGKILL: the OOM killer, a crash)
    stayed taken in Redis for the default ``limits.lease`` of 900 s, and a key with
    ``max_parallel: 1`` was refused every call (429, 6 of 6) meanwhile. Running calls renew
    their leases every third of one, so the default is now 30 s: the key serves again once
    the dead worker's lease runs out, on its own."""
    cfg = _config(mock, limits={"backend": "redis", "redis_url": redis.url})
    with workers(cfg, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}) as gw:
        until(lambda: len(statuses(gw)) == 2, 60, step=0.1)
        made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"max_parallel": 1})
        client = fresh_connections(gw, made.json()["key"])

        def admitted() -> bool:
            try:
                client.chat.completions.create(model="m", messages=MESSAGES)
            except openai.RateLimitError:
                return False
            return True

        def known() -> bool:  # a key made on one worker reaches the other at its next poll
            try:
                return all(admitted() for _ in range(10))
            except openai.AuthenticationError:
                return False

        until(known, 30, step=0.1)

        def opened() -> Any:  # the last call's slot is freed in Redis just after its answer
            try:
                return client.chat.completions.create(
                    model="m",
                    messages=MESSAGES,
                    stream=True,
                    extra_headers={"x-mock-tokens": "100", "x-mock-chunk-ms": "1000"},
                )
            except openai.RateLimitError:
                return None

        stream = found(opened, 10, step=0.05)
        next(iter(stream))
        assert not admitted()  # the stream holds the key's one slot
        before = {s["pid"] for s in statuses(gw)}
        for pid in before:  # the stream's worker among them
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(openai.APIError, httpx.HTTPError):
            for _ in stream:
                pass

        def replaced() -> bool:
            try:
                pids = {s["pid"] for s in statuses(gw)}
            except httpx.HTTPError:  # both workers starting again
                return False
            return len(pids) == 2 and not before & pids

        until(replaced, 90, step=0.1)
        until(admitted, 120, step=0.5)  # freed one lease after its last renewal, not 900 s

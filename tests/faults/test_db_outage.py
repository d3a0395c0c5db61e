"""docs/reliability.md row 14: the database goes down under load.

A private PostgreSQL (never the shared one) is stopped while requests flow, then started
again: every request must succeed meanwhile, and once the database is back every request must
have exactly one row. Then the harder case: the database is down when the gateway is told to
stop; its rows wait in the spool and the next gateway start replays them.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.contract.pg import PrivatePostgres, asyncpg_url
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(180)


class Load:
    """Clients sending requests in a loop, each with its own request id."""

    def __init__(self, gw: Proc, clients: int = 6) -> None:
        self.gw = gw
        self.sent: list[str] = []
        self.failed: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]
        self._lock = threading.Lock()

    def _run(self) -> None:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(base_url=self.gw.url, timeout=10) as client:
            while not self._stop.is_set():
                rid = uuid.uuid4().hex
                stream = len(rid) % 2 == 0 and rid[0] < "8"
                r = client.post(
                    "/v1/chat/completions",
                    json={**body, "stream": stream},
                    headers={"x-request-id": rid},
                )
                with self._lock:
                    (
                        self.sent.append(rid)
                        if r.status_code == 200
                        else self.failed.append((rid, r.status_code))
                    )

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)


async def _rows(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return [r[0] for r in await conn.fetch("SELECT request_id FROM request_log")]
    finally:
        await conn.close()


def rows(dsn: str) -> list[str]:
    try:
        return asyncio.run(_rows(dsn))
    except (OSError, asyncpg.PostgresError):
        return []


SPOOLED = "turnout_request_log_spooled_rows_total"


def metric(gw: Proc, name: str) -> float:
    """One unlabelled series of the gateway's /metrics."""
    for line in httpx.get(gw.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def wait_for_rows(dsn: str, expected: int, timeout: float = 40.0) -> list[str]:
    deadline = time.monotonic() + timeout
    found = rows(dsn)
    while len(found) < expected and time.monotonic() < deadline:
        time.sleep(0.25)
        found = rows(dsn)
    return found


def _gateway(mock: Proc, tmp: Path, pg: PrivatePostgres) -> Proc:
    cfg = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "storage": {"flush_interval": 0.05, "batch_size": 200},
        "logging": {"requests": False},
        "server": {"drain_timeout": 10},
    }
    return start_gateway(cfg, tmp, env={"TURNOUT_DATABASE_URL": asyncpg_url(pg.dsn)})


def test_rows_survive_an_outage_under_load_exactly_once(
    mock: Proc, pg: PrivatePostgres, tmp_path: Path
) -> None:
    gw = _gateway(mock, tmp_path, pg)
    try:
        with Load(gw) as load:
            until(lambda: rows(pg.dsn), 30, step=0.25)  # rows reach the database
            before = len(load.sent)
            pg.stop("fast")
            # Requests keep flowing with the database down, their rows going to the spool.
            until(lambda: len(load.sent) - before > 50 and metric(gw, SPOOLED) > 0, 60)
            pg.start()
            back = len(load.sent)
            until(lambda: metric(gw, "turnout_request_log_up") == 1.0, 60, step=0.1)
            until(lambda: len(load.sent) - back > 50, 30)  # and after it came back
        assert load.failed == []  # not one request failed for the database
        found = wait_for_rows(pg.dsn, len(load.sent))
        assert len(found) == len(load.sent), "rows missing or duplicated"
        assert sorted(found) == sorted(load.sent)  # each request exactly once
        assert metric(gw, "turnout_request_log_up") == 1.0
    finally:
        gw.stop()


def test_a_stop_while_the_database_is_down_spools_and_the_next_start_replays(
    mock: Proc, pg: PrivatePostgres, tmp_path: Path
) -> None:
    gw = _gateway(mock, tmp_path, pg)
    sent = []
    try:
        pg.stop("fast")
        with httpx.Client(base_url=gw.url) as client:
            for _ in range(40):
                rid = uuid.uuid4().hex
                r = client.post(
                    "/v1/chat/completions",
                    headers={"x-request-id": rid},
                    json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
                )
                assert r.status_code == 200
                sent.append(rid)
        gw.signal(signal.SIGTERM)
        assert gw.popen.wait(30) == 0
    finally:
        gw.stop()
    assert list((tmp_path / "turnout-spool").glob("*.jsonl"))
    pg.start()
    again = _gateway(mock, tmp_path, pg)
    try:
        found = wait_for_rows(pg.dsn, len(sent))
        assert sorted(found) == sorted(sent)
        until(lambda: not list((tmp_path / "turnout-spool").glob("*.jsonl")), 5, step=0.1)
    finally:
        again.stop()


def test_sigterm_flushes_the_queue(mock: Proc, pg: PrivatePostgres, tmp_path: Path) -> None:
    gw = _gateway(mock, tmp_path, pg)
    sent = []
    try:
        with httpx.Client(base_url=gw.url) as client:
            for _ in range(30):
                rid = uuid.uuid4().hex
                client.post(
                    "/v1/chat/completions",
                    headers={"x-request-id": rid},
                    json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
                )
                sent.append(rid)
        gw.signal(signal.SIGTERM)  # at once: rows are still in memory
        assert gw.popen.wait(30) == 0
    finally:
        gw.stop()
    assert sorted(rows(pg.dsn)) == sorted(sent)

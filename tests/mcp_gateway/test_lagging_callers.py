"""An upstream's notifications to a caller that does not read them.

The SDK's client starts a task for every notification it receives, and the gateway's relay in
it waited until the caller's stream took the notification. Before (2026-12-08), a caller that
called a tool reporting progress and stopped reading its answer left one waiting task per
notification: three calls of ``count(300000)`` took the gateway from 127 MB to 1.1 GB in a
minute. Now a relay keeps one send in flight and a few notifications waiting, the newest
(``turnout/mcp/latest.py``): the upstream's whole report costs the gateway next to nothing,
and a caller that reads still gets every notification.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.mcp_gateway.conftest import ADMIN, MASTER, gateway_config, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.mcp_gateway.test_sessions import INIT
from tests.support import rawhttp
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(300)
STEPS = 50_000  # without the fix the gateway grew 312 MB for these, with it 4 MB (2026-12-07)


@pytest.fixture(scope="module")
def patient(mock: Proc, alpha: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = gateway_config(
        mock,
        {"alpha": {"url": f"{alpha.url}/mcp", "timeouts": {"call": 240}}},
        outbound={"allow": ["localhost"]},
        server={"write_timeout": 600},  # the caller that does not read stays connected
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("mcp-lag"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    wait_states(proc, {"alpha": "up"})
    yield proc
    proc.stop()


def rss_mb(proc: Proc) -> float:
    for line in open(f"/proc/{proc.popen.pid}/status"):  # noqa: SIM115 - read at once
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def counted(proc: Proc) -> int:
    usage = httpx.get(proc.url + "/admin/mcp/usage", headers=ADMIN, timeout=10).json()["usage"]
    return sum(u["calls"] for u in usage if u["tool"] == "count")


def post(body: Any, *extra: str) -> bytes:
    return rawhttp.post(
        "/mcp",
        orjson.dumps(body),
        f"Authorization: Bearer {MASTER}",
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        *extra,
    )


async def test_a_reading_caller_gets_every_progress_notification(patient: Proc) -> None:
    seen: list[float] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with connect(patient) as client:
        answer = await client.call_tool("alpha__count", {"steps": 500}, progress_callback=progress)
    assert texts(answer) == ["counted 500"]
    assert seen == [float(i) for i in range(1, 501)]


def test_a_caller_that_does_not_read_costs_next_to_nothing(patient: Proc) -> None:
    opened = rawhttp.request(patient.port, post(INIT))
    assert opened is not None and opened.status == 200, opened
    session = (
        f"mcp-session-id: {opened.headers['mcp-session-id']}",
        "mcp-protocol-version: 2025-06-18",
    )
    ready = rawhttp.request(
        patient.port, post({"jsonrpc": "2.0", "method": "notifications/initialized"}, *session)
    )
    assert ready is not None and ready.status == 202, ready
    before, calls = rss_mb(patient), counted(patient)
    call = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {
            "name": "alpha__count",
            "arguments": {"steps": STEPS},
            "_meta": {"progressToken": "mine"},
        },
    }
    deaf = socket.create_connection(("127.0.0.1", patient.port))
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        deaf.sendall(post(call, *session))  # and never reads a byte of the answer
        until(lambda: counted(patient) > calls, limit=240)  # the upstream reported it all
        grown = rss_mb(patient) - before
    finally:
        deaf.close()
    assert grown < 100, f"the gateway grew by {grown:.0f} MB for {STEPS} progress notifications"

"""Issue 12 items 7 and 11: a client that leaves, and a SIGHUP, against real processes.

Item 7: a client that hung up before the first byte used to leave its upstream call running to
completion (paid for) and a 200 in the log. Now the upstream connection is dropped as soon as
the client's is (the mock counts it as a cancelled request: it would count a completed one if
the call ran on) and the log row says 499.

Item 11: SIGHUP used to kill the process mid-stream, losing the stream and its log row. Now it
reloads the config (docs/configuration.md#live-configuration): the stream ends normally on
the config it started with, and its row is written.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway

CHAT = b'{"model":"m","messages":[{"role":"user","content":"hi"}]%b}'


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "m": {"deployments": [{"provider": "mock"}]},
            "gem": {"deployments": [{"provider": "mock", "model": "translated"}]},
        },
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("depart"))
    yield proc
    proc.stop()


def _stats(mock: Proc) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(mock.url + "/_mock/stats").json()
    return stats


def _cancelled(stats: dict[str, Any]) -> int:
    """Calls the mock saw abandoned before it finished answering (streams or not)."""
    return int(stats["cancelled_requests"]) + int(stats["cancelled_streams"])


def _wait(what: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _row(gateway: Proc, rid: str) -> dict[str, Any]:
    def rows() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(
            gateway.url + "/admin/logs", params={"request_id": rid}
        ).json()["rows"]
        return found

    (row,) = _wait(rows)
    found_row: dict[str, Any] = row
    return found_row


def _leave_before_first_byte(gateway: Proc, mock: Proc, path: str, body: bytes) -> str:
    """Send a request the mock answers only after 30 s, wait until the mock has it, hang up."""
    rid = f"gone-{time.time_ns()}"
    before = _stats(mock)
    sock = rawhttp.connect(gateway.port)
    sock.sendall(rawhttp.post(path, body, f"X-Request-Id: {rid}", "X-Mock-Ttft-Ms: 30000"))
    assert _wait(lambda: _stats(mock)["requests"] > before["requests"])
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    # Cancelled, not completed: the upstream saw the gateway hang up long before its answer.
    assert _wait(lambda: _cancelled(_stats(mock)) > _cancelled(before))
    return rid


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_client_gone_before_the_first_byte_cancels_the_upstream_call(
    gateway: Proc, mock: Proc, stream: bool
) -> None:
    body = CHAT % (b',"stream":true' if stream else b"")
    rid = _leave_before_first_byte(gateway, mock, "/v1/chat/completions", body)
    row = _row(gateway, rid)
    assert row["status"] == 499 and row["error"] == "client_disconnected"


def test_a_translated_call_is_cancelled_too(gateway: Proc, mock: Proc) -> None:
    body = b'{"contents":[{"parts":[{"text":"hi"}]}]}'
    rid = _leave_before_first_byte(gateway, mock, "/v1beta/models/gem:generateContent", body)
    assert _row(gateway, rid)["status"] == 499


def test_sighup_mid_stream_neither_kills_nor_loses_the_row(gateway: Proc) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    rid = f"hup-{time.time_ns()}"
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-request-id": rid, "x-mock-chunk-ms": "50", "x-mock-tokens": "40"},
    )
    chunks = iter(stream)
    first = next(chunks)  # mid-stream from here on
    gateway.signal(signal.SIGHUP)
    rest = list(chunks)
    assert first.choices and rest and rest[-1].choices[0].finish_reason == "stop"
    assert gateway.popen.poll() is None
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    row = _row(gateway, rid)
    assert row["status"] == 200 and row["stream"] is True
    assert _wait(lambda: "SIGHUP received: reloading the config" in gateway.output())

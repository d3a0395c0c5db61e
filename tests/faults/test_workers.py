"""``turnout serve --workers N`` under faults: the supervisor and its workers as real processes,
judged by the OpenAI SDK and plain sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(240)

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _config(mock: Proc, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock", "model": "up"}]}},
        **extra,
    }


@contextlib.contextmanager
def workers(config: dict[str, Any], tmp: Path, n: int = 2) -> Iterator[Proc]:
    gw = start_gateway(config, tmp, "--workers", str(n), ready_within=120)
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
        # 30 frames a second apart: the stream outlives the wait for the refusal.
        stream = client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-tokens": "30", "x-mock-chunk-ms": "1000"},
        )
        frames = iter(stream)
        next(frames)
        gw.signal(signal.SIGTERM)
        until(lambda: refused(gw.port), 20, step=0.1)
        # The stream in flight still finishes, whole, and the supervisor exits 0.
        last = None
        for chunk in frames:
            if chunk.choices and chunk.choices[0].finish_reason:
                last = chunk.choices[0].finish_reason
        assert last == "length" or last == "stop"
        assert gw.popen.wait(60) == 0

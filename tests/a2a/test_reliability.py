"""An agent that speaks nonsense, hangs or cuts its stream: the caller gets a JSON-RPC error
in time, and a broken stream never ends cleanly."""

from __future__ import annotations

import socket
import uuid

import httpx
import orjson
import pytest

from tests.a2a.conftest import MASTER
from tests.support.procs import Proc


def body(text: str, method: str = "SendMessage") -> bytes:
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": "r1",
            "method": method,
            "params": {
                "message": {
                    "messageId": str(uuid.uuid4()),
                    "role": "ROLE_USER",
                    "parts": [{"text": text}],
                }
            },
        }
    )


def post(gw: Proc, text: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/a2a/rogue",
        content=body(text),
        headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
        timeout=30,
    )


def raw_stream(gw: Proc, text: str, key: str = MASTER) -> tuple[bytes, bool]:
    """The whole raw response of a streaming call, and whether it ended with HTTP's own clean
    end (the last chunk) rather than a dropped connection."""
    payload = body(text, "SendStreamingMessage")
    request = (
        f"POST /a2a/rogue HTTP/1.1\r\nhost: 127.0.0.1:{gw.port}\r\n"
        f"authorization: Bearer {key}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if data.endswith(b"\r\n0\r\n\r\n"):
                return data, True
    return data, False


def test_a_malformed_answer_is_an_invalid_agent_response(a2a_gateway: Proc) -> None:
    resp = post(a2a_gateway, "malformed")
    assert resp.status_code == 502
    err = resp.json()
    assert err["id"] == "r1" and err["error"]["code"] == -32006


def test_an_error_page_is_a_jsonrpc_error(a2a_gateway: Proc) -> None:
    resp = post(a2a_gateway, "html")
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == -32052
    assert "<html>" not in resp.text


def test_a_silent_agent_times_out(a2a_gateway: Proc) -> None:
    resp = post(a2a_gateway, "hang")  # the agent's read timeout is 2 s
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == -32054


@pytest.mark.parametrize("how", ["cut", "half", "short", "garbage"])
def test_a_broken_stream_ends_with_an_error_event_never_cleanly(
    a2a_gateway: Proc, how: str
) -> None:
    data, clean = raw_stream(a2a_gateway, how)
    assert not clean, "a broken stream must not end with HTTP's clean last chunk"
    assert b"t-rogue" in data  # the whole events the agent sent were relayed first
    events = [
        orjson.loads(line[6:])
        for line in data.split(b"\n")
        if line.startswith(b"data: {") and b"jsonrpc" in line
    ]
    assert events[-1]["error"]["code"] in (-32006, -32052)  # its own event, whole
    assert b"halfway" not in data  # half an event is never relayed
    assert events[-1]["id"] == "r1"

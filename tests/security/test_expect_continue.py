"""``Expect: 100-continue``: a client waits for the server's go-ahead before sending its body.

Before: a final answer given without reading the body (413 from ``Content-Length``, the admin
API's or a model route's) left the connection open with no ``connection: close``: the client,
told not to send its body, may send its next request on that connection, and the gateway read it
as the promised body (the request vanished) until the body timeout closed the connection. Now
such an answer says ``connection: close`` and the connection is closed after it. A client that
gets its ``100 Continue`` is served as before, on a connection that stays open.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "server": {"max_body_bytes": 1000},
        "storage": {"enabled": False},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("expect"))
    yield proc
    proc.stop()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/admin/keys"])
def test_an_answer_before_100_continue_closes_the_connection(path: str, gateway: Proc) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
        "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    )
    with rawhttp.connect(gateway.port, timeout=10) as sock:
        sock.sendall(head.encode())
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 413
        assert reply.headers["connection"] == "close"
        # The next request on this connection is not swallowed as the promised body.
        assert rawhttp.closed_by_peer(sock)


def test_a_client_given_100_continue_is_served_and_kept(gateway: Proc) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(head.encode())
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 200
        assert "connection" not in reply.headers
        sock.sendall(rawhttp.post("/v1/chat/completions", BODY, "Connection: close"))
        again = rawhttp.read_reply(sock)
        assert again is not None and again.status == 200

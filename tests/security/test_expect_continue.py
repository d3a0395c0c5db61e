"""``Expect: 100-continue``: a client waits for the server's go-ahead before sending its body.

Before: a final answer given without reading the body (413 from ``Content-Length``, the admin
API's or a model route's) left the connection open with no ``connection: close``: the client,
told not to send its body, may send its next request on that connection, and the gateway read it
as the promised body (the request vanished) until the body timeout closed the connection. Now
such an answer says ``connection: close`` and the connection is closed after it. A client that
gets its ``100 Continue`` is served as before, on a connection that stays open.
"""

from __future__ import annotations

import socket
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
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    )
    with rawhttp.connect(gateway.port, timeout=10) as sock:
        sock.sendall(head.encode())
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 413
        assert reply.headers["connection"] == "close"
        # The next request on this connection is not swallowed as the promised body.
        assert rawhttp.closed_by_peer(sock)


def _continued(sock: socket.socket, extra: str = "") -> rawhttp.RawReply | None:
    """Ask with ``Expect: 100-continue``, send the body once told to, read the answer."""
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: [::1]\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n\r\n"
    )
    sock.sendall(head.encode())
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        interim += sock.recv(1)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(BODY)
    return rawhttp.read_reply(sock)


def test_a_client_given_100_continue_is_served_and_kept(gateway: Proc) -> None:
    with rawhttp.connect(gateway.port) as sock:
        reply = _continued(sock)
        assert reply is not None and reply.status == 200
        assert "connection" not in reply.headers
        sock.sendall(rawhttp.post("/v1/chat/completions", BODY, "Connection: close"))
        again = rawhttp.read_reply(sock)
        assert again is not None and again.status == 200


MASTER = "sy-master-expect-continue-0123"


@pytest.fixture(scope="module")
def keyed(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    env = {"TURNOUT_MASTER_KEY": MASTER}
    proc = start_gateway(config, tmp_path_factory.mktemp("expect-keyed"), env=env)
    yield proc
    proc.stop()


@pytest.mark.parametrize(
    ("path", "key", "kind"),
    [
        ("/v1/chat/completions", "Authorization: Bearer sk-wrong-key-000000\r\n", "invalid"),
        ("/v1/chat/completions", "", "missing"),
        ("/v1/messages", "x-api-key: sk-wrong-key-000000\r\n", "invalid"),
        ("/v1beta/models/m:generateContent?key=sk-wrong-key-000000", "", "invalid"),
    ],
)
def test_a_refused_key_is_answered_before_100_continue(
    keyed: Proc, path: str, key: str, kind: str
) -> None:
    """Before: the gateway sent ``100 Continue`` (asking for the body, megabytes for an
    upload) and only then refused the key."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{key}"
        "Content-Length: 500000\r\nExpect: 100-continue\r\n\r\n"
    )
    with rawhttp.connect(keyed.port, timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):  # the gateway closes after its answer
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 401 Unauthorized", answer[:200]  # no 100 Continue first
    assert b"\r\nconnection: close\r\n" in rest.lower()
    assert (b"Missing" if kind == "missing" else b"Invalid") in rest
    assert b"sk-wrong" not in rest


def test_a_valid_key_gets_100_continue(keyed: Proc) -> None:
    with rawhttp.connect(keyed.port) as sock:
        reply = _continued(sock, f"Authorization: Bearer {MASTER}\r\n")
        assert reply is not None and reply.status == 200

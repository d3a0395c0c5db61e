"""Whom a request is for: exactly one valid ``Host``, and an absolute-form target's host wins.

Before: an HTTP/1.1 request without ``Host``, with two ``Host`` lines (a proxy in front reads
the first, the gateway read the last), an empty one or one holding anything at all (``a b``,
``evil/x``, ``user@evil``, ``<script>``) was served, and that host went into the URLs the
gateway builds (the MCP metadata document, A2A cards, the dashboard's origin check, the sign-on
callback). An absolute-form target (``GET http://good/...`` with ``Host: evil``) was served with
the Host header's host, against RFC 9112 §3.2.2. Now each of those is a 400 in the request's
protocol (RFC 9112 §3.2: MUST), nothing reaches the upstream, and an absolute-form target's
host replaces the Host header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_gateway, rogue_requests

BODY = b'{"model":"gpt-x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
MASTER = "sk-master-host-0123"
AUTH = f"Authorization: Bearer {MASTER}"
CHAT = "/v1/chat/completions"  # relayed as it is: the rogue upstream's `{}` is an answer


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("host")
    proc = rogue_gateway(rogue_server, tmp, MASTER, storage={"enabled": False})
    yield proc
    proc.stop()


def _request(target: str, *hosts: str, version: str = "HTTP/1.1", body: bytes = BODY) -> bytes:
    lines = [f"POST {target} {version}", *hosts, AUTH, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


REFUSED = {
    "none": (),
    "two": ("Host: good.example", "Host: evil.example"),
    "two-alike": ("Host: good.example", "Host: good.example"),
    "empty": ("Host: ",),
    "space": ("Host: a b",),
    "path": ("Host: evil.example/x",),
    "query": ("Host: evil.example?x",),
    "credentials": ("Host: user:pw@evil.example",),
    "port-out-of-range": ("Host: good.example:99999",),
    "two-ports": ("Host: good.example:1:2",),
    "markup": ("Host: <script>",),
    "comma": ("Host: good.example,evil.example",),
    "high-bytes": ("Host: \xff\xfe",),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_request_without_exactly_one_valid_host_is_refused(
    name: str, gateway: Proc, rogue: Proc
) -> None:
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(_request("/v1/messages", *REFUSED[name]))
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 400
        body: Any = reply.json()
        assert body["type"] == "error"  # Anthropic's shape: the path's protocol
        assert "Host" in body["error"]["message"]
        assert reply.headers["x-should-retry"] == "false"
        assert rawhttp.closed_by_peer(sock)
    assert rogue_requests(rogue) == []


@pytest.mark.parametrize(
    "target",
    ["ftp://good.example/v1/messages", "http://user:pw@good.example/v1/messages"],
)
def test_an_absolute_target_must_be_http_without_credentials(
    target: str, gateway: Proc, rogue: Proc
) -> None:
    reply = rawhttp.request(gateway.port, _request(target, "Host: good.example"))
    assert reply is not None and reply.status == 400
    assert rogue_requests(rogue) == []


@pytest.mark.parametrize(
    "hosts",
    [
        ("Host: good.example",),
        ("Host: turnout_gateway:4141",),  # container names may hold "_"
        ("Host: 127.0.0.1:4141",),
        ("Host: [::1]:4141",),
        ("Host: GOOD.example.",),
    ],
)
def test_valid_hosts_are_served(hosts: tuple[str, ...], gateway: Proc, rogue: Proc) -> None:
    reply = rawhttp.request(gateway.port, _request(CHAT, *hosts))
    assert reply is not None and reply.status == 200, reply
    assert len(rogue_requests(rogue)) == 1


def test_http_1_0_may_leave_host_out(gateway: Proc) -> None:
    reply = rawhttp.request(gateway.port, _request(CHAT, version="HTTP/1.0"))
    assert reply is not None and reply.status == 200


def test_each_request_on_a_connection_is_checked(gateway: Proc) -> None:
    """The host found valid is remembered per connection; a different one is read again."""
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(_request(CHAT, "Host: good.example"))
        first = rawhttp.read_reply(sock)
        sock.sendall(_request(CHAT, "Host: good.example/evil"))
        second = rawhttp.read_reply(sock)
    assert first is not None and first.status == 200
    assert second is not None and second.status == 400


def test_an_absolute_targets_host_wins_over_the_host_header(gateway: Proc) -> None:
    head = (
        b"GET http://good.example:8080/.well-known/oauth-protected-resource HTTP/1.1\r\n"
        b"Host: evil.example\r\nConnection: close\r\n\r\n"
    )
    reply = rawhttp.request(gateway.port, head)
    assert reply is not None and reply.status == 200
    assert b"evil.example" not in reply.body
    body: Any = reply.json()
    assert body["resource"].startswith("http://good.example:8080/")

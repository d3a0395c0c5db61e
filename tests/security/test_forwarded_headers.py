"""Issue 12 item 3: ``forward_headers: ["*"]`` must never forward framing, hop-by-hop or
credential headers.

A client that could put its own ``Host``, ``Content-Length`` or ``Transfer-Encoding`` next to
the gateway's would send two Host lines or a length/encoding conflict down a pooled keep-alive
connection to the provider (request smuggling, with the gateway's key). A hostile upstream
records the exact request head the gateway wrote.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_requests, start_gateway

BODY = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'
HOSTILE = (
    "Connection: keep-alive, X-Drop-Me",
    "Keep-Alive: timeout=600",
    "Proxy-Connection: keep-alive",
    "Upgrade: websocket",
    "TE: trailers",
    "Trailer: X-Checksum",
    "Expect: 100-continue",
    "Proxy-Authorization: Basic c2VjcmV0",
    "Proxy-Anything: 1",
    "Authorization: Bearer client-secret",
    "X-Api-Key: client-secret",
    "Cookie: session=client-secret",
    "Accept-Encoding: gzip, br",
    "Content-Encoding: gzip",
    "User-Agent: evil/1.0",
    "X-Custom-Tag: kept",
)


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "server": {"allowed_hosts": ["internal.example"]},  # authentication is off here
        "storage": {"enabled": False},
        "providers": {
            "everything": {
                "type": "openai-compatible",
                "base_url": rogue_server.url + "/v1",
                "api_keys": ["sk-gateway-secret-01"],
                "forward_headers": ["*"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "everything"}]}},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("fwd"))
    yield proc
    proc.stop()


def _sent_head(rogue: Proc) -> tuple[str, list[str]]:
    (sent,) = rogue_requests(rogue)
    lines = sent["head"].rstrip("\r\n").split("\r\n")
    return lines[0], [line.split(":", 1)[0].lower() for line in lines[1:]]


def test_star_forwards_custom_headers_but_no_framing_or_credentials(
    gateway: Proc, rogue: Proc
) -> None:
    # The client's Host names another server; a second Host line is refused before routing
    # (tests/security/test_host_header.py).
    head = rawhttp.post("/v1/chat/completions", BODY, *HOSTILE, host="internal.example")
    reply = rawhttp.request(gateway.port, head)
    assert reply is not None and reply.status < 500
    line, names = _sent_head(rogue)
    assert line == "POST /v1/chat/completions HTTP/1.1"
    assert names.count("host") == 1
    assert names.count("content-length") == 1
    assert names.count("user-agent") == 1
    assert names.count("accept-encoding") == 1
    assert names.count("authorization") == 1  # the gateway's own key
    (sent,) = rogue_requests(rogue)
    assert "sk-gateway-secret-01" in sent["head"]
    assert "client-secret" not in sent["head"]
    assert "internal.example" not in sent["head"]
    assert "evil/1.0" not in sent["head"]
    for name in (
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "transfer-encoding",
        "proxy-authorization",
        "proxy-anything",
        "x-api-key",
        "cookie",
        "content-encoding",
        "x-drop-me",
    ):
        assert name not in names, name
    assert "x-custom-tag" in names
    assert sent["body_bytes"] == len(BODY)


def test_a_chunked_client_body_goes_upstream_with_one_length_and_no_encoding(
    gateway: Proc, rogue: Proc
) -> None:
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(BODY), BODY)
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
    )
    reply = rawhttp.request(gateway.port, head)
    assert reply is not None and reply.status < 500
    _, names = _sent_head(rogue)
    assert "transfer-encoding" not in names
    assert names.count("content-length") == 1

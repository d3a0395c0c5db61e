"""Requests the HTTP parser cannot read: framing that contradicts itself, obs-fold, bad chunks,
bytes a head may not hold, HTTP versions other than 1.0 and 1.1, HTTP/2's preface.

Before, each got uvicorn's plain-text ``400 Invalid HTTP request received.`` (no protocol's
error shape, no ``x-should-retry``: an SDK misparsed it and retried it) and one warning line in
the gateway's log per request, so any client could fill the log at will; a bad chunk mid-body
was also logged as a client departure (499). ``HTTP/2.0`` on a request line and a bare
``GET /path`` (HTTP/0.9) were served as if they were HTTP/1.1. Now each is a 400 in the
protocol of the request's path, the connection is closed, nothing reaches the upstream and
nothing is logged above debug; a bad chunk mid-body is logged as the 400 it got.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_gateway, rogue_requests
from tests.support.request_log import request_line

BODY = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'
N = len(BODY)
CHUNKED = b"%x\r\n%b\r\n0\r\n\r\n" % (N, BODY)
MASTER = "sk-master-malformed-0123"
AUTH = f"Authorization: Bearer {MASTER}"


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("malformed")
    proc = rogue_gateway(rogue_server, tmp, MASTER, storage={"enabled": False})
    yield proc
    proc.stop()


def _head(line: str, *headers: str) -> bytes:
    return ("\r\n".join((line, *headers)) + "\r\n\r\n").encode("latin-1")


CHAT = "POST /v1/chat/completions HTTP/1.1"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# name -> (request bytes, the error shape's protocol)
MALFORMED: dict[str, tuple[bytes, str]] = {
    "content-length-and-chunked": (
        _head(CHAT, "Host: g", f"Content-Length: {N}", "Transfer-Encoding: chunked") + CHUNKED,
        "openai",
    ),
    "two-content-lengths": (
        _head(CHAT, "Host: g", f"Content-Length: {N}", "Content-Length: 5") + BODY,
        "openai",
    ),
    "content-length-list": (_head(CHAT, "Host: g", f"Content-Length: {N}, {N}") + BODY, "openai"),
    "negative-content-length": (_head(CHAT, "Host: g", "Content-Length: -1") + BODY, "openai"),
    "obs-fold": (_head(CHAT, "Host: g", f"Content-Length: {N}", "X-A: a", " b") + BODY, "openai"),
    "space-before-colon": (_head(CHAT, "Host: g", f"Content-Length : {N}") + BODY, "openai"),
    "unknown-transfer-coding": (
        _head(CHAT, "Host: g", "Transfer-Encoding: xchunked") + CHUNKED,
        "openai",
    ),
    "bad-chunk-size": (
        _head(CHAT, "Host: g", "Transfer-Encoding: chunked") + b"zz\r\n" + BODY + b"\r\n0\r\n\r\n",
        "openai",
    ),
    "chunk-size-overflow": (
        _head(CHAT, "Host: g", "Transfer-Encoding: chunked") + b"f" * 30 + b"\r\n" + BODY,
        "openai",
    ),
    "nul-in-path": (_head("GET /v1/models\x00 HTTP/1.1", "Host: g"), "openai"),
    "control-in-header": (_head(CHAT, "Host: g", "X-A: a\x01b", "Content-Length: 0"), "openai"),
    # The parser stops at the method, before the path: the default shape (OpenAI's).
    "unknown-method": (_head("BREW /v1/messages HTTP/1.1", "Host: g"), "openai"),
    "http-1.2": (_head("POST /v1/messages HTTP/1.2", "Host: g", "Content-Length: 0"), "anthropic"),
    "http-2.0-request-line": (
        _head("POST /v1beta/models/gpt-x:generateContent HTTP/2.0", "Host: g", "Content-Length: 2")
        + b"{}",
        "gemini",
    ),
    "http-0.9": (b"GET /v1beta/models\r\n\r\n", "gemini"),
    "relative-target": (_head("GET v1/models HTTP/1.1", "Host: g"), "openai"),
    "bad-absolute-target": (_head("GET http://g:99999/v1/models HTTP/1.1", "Host: g"), "openai"),
    "h2-preface": (H2_PREFACE + bytes.fromhex("000000040000000000"), "openai"),
    "tls-client-hello": (bytes.fromhex("16030100a5010000a10303") + bytes(40), "openai"),
}


def _assert_shape(reply: rawhttp.RawReply, protocol: str) -> str:
    """The error's message, after checking the body is the protocol's error shape."""
    body: Any = reply.json()
    if protocol == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
    elif protocol == "gemini":
        assert body["error"]["status"] == "INVALID_ARGUMENT" and body["error"]["code"] == 400
    else:
        assert body["error"]["type"] == "invalid_request_error"
    message: str = body["error"]["message"]
    return message


def _loud_lines(gateway: Proc) -> list[str]:
    return [
        raw
        for raw in gateway.output().splitlines()
        if "Traceback" in raw
        or (raw.startswith("{") and json.loads(raw).get("level") in ("warning", "error"))
    ]


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_request_is_a_400_in_its_protocol(
    name: str, gateway: Proc, rogue: Proc
) -> None:
    data, protocol = MALFORMED[name]
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(data)
        reply = rawhttp.read_reply(sock)
        assert reply is not None, "closed without an answer"
        assert reply.status == 400
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["x-should-retry"] == "false"
        assert reply.headers["connection"] == "close"
        message = _assert_shape(reply, protocol)
        assert "HTTP" in message
        assert rawhttp.closed_by_peer(sock)
    assert rogue_requests(rogue) == []
    assert _loud_lines(gateway) == []
    assert httpx.get(gateway.url + "/healthz").status_code == 200


def test_the_http2_preface_is_told_to_speak_http_1_1(gateway: Proc) -> None:
    reply = rawhttp.request(gateway.port, MALFORMED["h2-preface"][0])
    assert reply is not None and reply.status == 400
    assert "HTTP/2" in _assert_shape(reply, "openai")


def test_a_chunk_that_breaks_mid_body_is_logged_as_the_400_it_got(
    gateway: Proc, rogue: Proc
) -> None:
    rid = f"bad-chunk-{time.time_ns()}"
    head = _head(CHAT, "Host: g", AUTH, f"X-Request-Id: {rid}", "Transfer-Encoding: chunked")
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(head + b'5\r\n{"mod\r\n')  # the head and a first chunk: the request runs
        sock.sendall(b"zz\r\n")  # then a chunk size that is not hexadecimal
        reply = rawhttp.read_reply(sock)
    assert reply is not None and reply.status == 400
    _assert_shape(reply, "openai")
    line = request_line(gateway, rid)
    assert line["status"] == 400 and line["error"] == "malformed_body"
    assert rogue_requests(rogue) == []


def test_well_formed_variants_are_still_served(gateway: Proc, rogue: Proc) -> None:
    """What llhttp accepts and a client may legitimately send: chunk extensions, trailers,
    HTTP/1.0, an absolute-form target (a transfer coding list other than a lone chunked is
    refused since: test_transfer_coding.py)."""
    chunked = _head(CHAT, "Host: g", AUTH, "Transfer-Encoding: chunked")
    for data in (
        chunked + b"%x;ext=1\r\n%b\r\n0\r\n\r\n" % (N, BODY),
        chunked + CHUNKED[:-2] + b"X-T: 1\r\n\r\n",
        _head("POST /v1/chat/completions HTTP/1.0", AUTH, f"Content-Length: {N}") + BODY,
        _head("POST http://g/v1/chat/completions HTTP/1.1", "Host: g", AUTH, f"Content-Length: {N}")
        + BODY,
    ):
        reply = rawhttp.request(gateway.port, data)
        assert reply is not None and reply.status == 200, (data, reply)
    assert len(rogue_requests(rogue)) == 4

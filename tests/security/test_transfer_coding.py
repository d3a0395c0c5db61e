"""A request's transfer codings: a lone ``chunked`` is read, anything else is refused.

Before (2026-12-07), ``Transfer-Encoding: gzip, chunked`` (or ``identity, chunked``, two lines
``gzip`` then ``chunked``, ``chunked;x=1``) was read as plain chunked: the application got a
body in a coding nobody decoded, while a proxy in front may have framed the same bytes another
way. Now (RFC 9112 §6.1, §6.3) a well-formed list naming another coding is a 501, a malformed
one (empty element, not a token, ``chunked`` twice or not last) a 400, in the error shape of
the request path's protocol, ``x-should-retry: false``, the connection closed, nothing sent
upstream and nothing logged above info. Raw sockets against a real gateway; the hostile
upstream (tests/support/rogue.py) records what reaches it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_gateway, rogue_requests

BODY = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'
CHUNKED = b"%x\r\n%b\r\n0\r\n\r\n" % (len(BODY), BODY)
MASTER = "sk-master-codings-0123"
PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gpt-x:generateContent",
}
NOT_IMPLEMENTED = {
    "gzip-then-chunked": ["gzip, chunked"],
    "identity-then-chunked": ["identity,chunked"],
    "two-lines": ["gzip", "chunked"],
    "chunked-with-a-parameter": ["chunked;x=1"],
}
MALFORMED = {
    "chunked-twice": ["chunked, chunked"],
    "chunked-not-last": ["chunked, gzip"],
    "no-chunked": ["gzip"],
    "empty-element": [", chunked"],
    "not-a-token": ["chu nked"],
}


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("codings")
    proc = rogue_gateway(rogue_server, tmp, MASTER, storage={"enabled": False})
    yield proc
    proc.stop()


def _request(path: str, codings: list[str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: g", f"Authorization: Bearer {MASTER}"]
    lines += [f"Transfer-Encoding: {c}" for c in codings]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + CHUNKED


def _status_of(body: Any, protocol: str) -> int | str:
    if protocol == "gemini":
        return int(body["error"]["code"])
    if protocol == "anthropic":
        assert body["type"] == "error"
        return str(body["error"]["type"])
    return str(body["error"]["type"])


@pytest.mark.parametrize("protocol", sorted(PATHS))
@pytest.mark.parametrize("case", sorted({**NOT_IMPLEMENTED, **MALFORMED}))
def test_a_transfer_coding_other_than_chunked_is_refused(
    gateway: Proc, rogue: Proc, case: str, protocol: str
) -> None:
    want = 501 if case in NOT_IMPLEMENTED else 400
    codings = {**NOT_IMPLEMENTED, **MALFORMED}[case]
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(_request(PATHS[protocol], codings))
        reply = rawhttp.read_reply(sock)
        assert reply is not None, "closed without an answer"
        assert reply.status == want, (reply.status, reply.json())
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["x-should-retry"] == "false"
        assert reply.headers["connection"] == "close"
        body: Any = reply.json()
        if protocol == "gemini":
            assert _status_of(body, protocol) == want
        else:
            assert isinstance(_status_of(body, protocol), str)
        assert (
            "chunked" in body["error"]["message"]
            or "Transfer-Encoding" in (body["error"]["message"])
        )
        assert rawhttp.closed_by_peer(sock)
    assert rogue_requests(rogue) == []
    loud = [
        line
        for line in gateway.output().splitlines()
        if "Traceback" in line
        or (line.startswith("{") and json.loads(line).get("level") in ("warning", "error"))
    ]
    assert loud == []
    assert httpx.get(gateway.url + "/healthz").status_code == 200


@pytest.mark.parametrize("coding", ["chunked", "Chunked", "CHUNKED"])
def test_a_lone_chunked_in_any_case_is_still_served(
    gateway: Proc, rogue: Proc, coding: str
) -> None:
    reply = rawhttp.request(gateway.port, _request(PATHS["openai"], [coding]))
    assert reply is not None and reply.status == 200, reply
    assert len(rogue_requests(rogue)) == 1

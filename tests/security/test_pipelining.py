"""A refused request pipelined behind one the gateway is still serving.

HTTP/1.1 answers a connection's requests in the order they came. Before (2026-12-07) a request
the HTTP layer refused (a bad or second ``Host``, a head llhttp could not read, an upgrade, a
head too large, a body whose chunks broke) while an earlier request on the connection was
still being served had its 400 or 431 written at once and the connection closed: the earlier
request was cancelled, after its upstream call had begun, and its client read the refusal as
its answer. Now the earlier request is answered first, then the refusal, then the connection
closes. A second pipelined request is authenticated on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_gateway, rogue_requests

MASTER = "sk-master-pipelining-0123"
BODY = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("pipelining")
    proc = rogue_gateway(rogue_server, tmp, MASTER, storage={"enabled": False})
    yield proc
    proc.stop()


def _chat(*headers: str, host: str = "gateway", body: bytes = BODY) -> bytes:
    lines = ["POST /v1/chat/completions HTTP/1.1", f"Host: {host}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


GOOD = _chat(f"Authorization: Bearer {MASTER}", f"Content-Length: {len(BODY)}")
SECOND = {
    "bad host": _chat(f"Content-Length: {len(BODY)}", host="evil.example/x"),
    "two hosts": _chat("Host: other", f"Content-Length: {len(BODY)}"),
    "two lengths": _chat(f"Content-Length: {len(BODY)}", "Content-Length: 5"),
    "upgrade": _chat("Connection: upgrade", "Upgrade: websocket", "Content-Length: 0", body=b""),
    "head too large": _chat("X-Big: " + "a" * 70_000, "Content-Length: 0", body=b""),
    "broken chunk": _chat("Transfer-Encoding: chunked", body=b"zz\r\nxx\r\n0\r\n\r\n"),
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
}
STATUS = {"head too large": 431}


@pytest.mark.parametrize("case", list(SECOND))
def test_an_earlier_request_is_answered_before_a_refusal(
    gateway: Proc, rogue: Proc, case: str
) -> None:
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(GOOD + SECOND[case])
        first, refused = rawhttp.split_replies(rawhttp.read_until_closed(sock))
    assert first.status == 200, first
    assert "x-turnout-deployment" in first.headers  # the upstream's answer, relayed
    assert refused.status == STATUS.get(case, 400), refused
    assert refused.headers["connection"] == "close"
    assert len(rogue_requests(rogue)) == 1  # the first request, once; the refused one never


def test_a_pipelined_request_is_authenticated_on_its_own(gateway: Proc, rogue: Proc) -> None:
    anonymous = _chat(f"Content-Length: {len(BODY)}")
    last = _chat(
        f"Authorization: Bearer {MASTER}", f"Content-Length: {len(BODY)}", "Connection: close"
    )
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(GOOD + anonymous + last)
        replies = rawhttp.split_replies(rawhttp.read_until_closed(sock))
    assert [r.status for r in replies] == [200, 401, 200]
    assert len(rogue_requests(rogue)) == 2


def _chunked(trailers: list[str], *headers: str) -> bytes:
    """A chunked chat request whose body is followed by ``trailers`` (trailer field lines)."""
    body = b"%x\r\n%b\r\n0\r\n" % (len(BODY), BODY)
    tail = "".join(f"{line}\r\n" for line in trailers).encode("latin-1") + b"\r\n"
    return _chat("Transfer-Encoding: chunked", "Connection: close", *headers, body=body + tail)


def test_trailer_fields_are_not_request_headers(
    rogue_server: Proc, rogue: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Before, a trailer ``Authorization`` replaced the key of the head (a key limited to
    ``gpt-ok`` was served ``gpt-other`` as the master key), and ``X-*`` trailers were
    forwarded upstream under ``forward_headers``; an endless trailer section was unbounded."""
    tmp = tmp_path_factory.mktemp("trailers")
    gateway = rogue_gateway(rogue_server, tmp, MASTER, storage={"enabled": False})
    try:
        made = httpx.post(
            gateway.url + "/admin/keys",
            json={"models": ["gpt-ok"]},
            headers={"authorization": f"Bearer {MASTER}"},
        )
        assert made.status_code == 201, made.text
        limited = str(made.json()["key"])
        smuggled = _chunked([f"Authorization: Bearer {MASTER}"], f"Authorization: Bearer {limited}")
        answer = rawhttp.request(gateway.port, smuggled)
        assert answer is not None and answer.status == 403, answer  # gpt-x is not gpt-ok
        assert rogue_requests(rogue) == []
        big = _chunked(
            [f"X-T{i}: " + "a" * 1000 for i in range(80)], f"Authorization: Bearer {MASTER}"
        )
        answer = rawhttp.request(gateway.port, big)
        assert answer is not None and answer.status == 431, answer
    finally:
        gateway.stop()

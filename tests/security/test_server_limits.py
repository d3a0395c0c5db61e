"""Issue 12 items 5 and 6: what one client can make the server hold.

Item 5: a 50 MB header or a million header lines used to be accepted (the million lines
blocked the event loop for seconds and doubled peak memory); now a head beyond
``server.max_header_bytes`` or ``server.max_headers`` gets 431 and the connection closes.
Item 6: connections that sent their head a byte at a time, stopped half-way, promised a body
they never sent, or sent nothing at all stayed open forever; now each phase has its timeout
(408 for an incomplete head or a stalled body, a close for an idle connection).

Every attack is a raw socket against a real gateway. The timeouts are set short (1 s) so the
tests end quickly; they wait for the gateway's answer, never for a fixed time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
LIMITS = {"header_timeout": 1, "body_timeout": 1, "idle_timeout": 1, "write_timeout": 1}


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "server": {**LIMITS, "max_header_bytes": 16384, "max_headers": 50},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("limits"))
    yield proc
    proc.stop()


def _peak_rss_kb(proc: Proc) -> int:
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _flood(port: int, head: bytes, filler: bytes, total: int) -> rawhttp.RawReply | None:
    """Send ``head`` then ``filler`` up to ``total`` bytes, stopping when the server answers
    or closes; return its answer."""
    with rawhttp.connect(port) as sock:
        sock.sendall(head)
        sent = 0
        block = filler * max(1, 65536 // len(filler))
        try:
            while sent < total:
                sock.sendall(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return rawhttp.read_reply(sock)
        except ConnectionResetError:
            return None


def _assert_431(reply: rawhttp.RawReply | None) -> None:
    assert reply is not None, "the server closed without answering"
    assert reply.status == 431
    assert reply.headers["connection"] == "close"
    body: Any = reply.json()
    assert "too large" in body["error"]["message"]


def test_a_50_mb_header_is_refused_without_being_held(gateway: Proc) -> None:
    before = _peak_rss_kb(gateway)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Big: "
    _assert_431(_flood(gateway.port, head, b"a", 50 * 1024 * 1024))
    # The gateway kept at most one read past the limit, not the 50 MB.
    assert _peak_rss_kb(gateway) - before < 20 * 1024
    assert httpx.get(gateway.url + "/healthz").status_code == 200


def test_a_million_header_lines_are_refused(gateway: Proc) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
    _assert_431(_flood(gateway.port, head, b"a: b\r\n", 1_000_000 * 6))
    assert httpx.get(gateway.url + "/healthz").status_code == 200


def test_header_count_limit_is_exact(gateway: Proc) -> None:
    lines = [f"X-H{i}: v" for i in range(47)]  # + Host, Content-Length, Connection = 50
    ok = rawhttp.request(
        gateway.port, rawhttp.post("/v1/chat/completions", BODY, *lines, "Connection: close")
    )
    assert ok is not None and ok.status == 200
    reply = rawhttp.request(
        gateway.port,
        rawhttp.post("/v1/chat/completions", BODY, *lines, "X-One: more", "Connection: close"),
    )
    _assert_431(reply)


def test_a_long_url_counts_towards_the_head(gateway: Proc) -> None:
    path = "/v1beta/models/m:generateContent?x=" + "a" * 20000
    reply = rawhttp.request(gateway.port, rawhttp.post(path, b"{}", "Connection: close"))
    _assert_431(reply)
    assert reply is not None and reply.json()["error"]["status"] == "INVALID_ARGUMENT"  # type: ignore[index]


def test_headers_just_under_the_limit_are_served(gateway: Proc) -> None:
    reply = rawhttp.request(
        gateway.port,
        rawhttp.post("/v1/chat/completions", BODY, "X-Big: " + "a" * 15000, "Connection: close"),
    )
    assert reply is not None and reply.status == 200


def _drip(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send ``data`` one byte at a time until ``stop`` is set or the server hangs up."""
    for byte in data:
        if stop.wait(every):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def test_a_head_sent_a_byte_at_a_time_gets_408(gateway: Proc) -> None:
    head = rawhttp.post("/v1/messages", BODY)
    line = head.index(b"\r\n") + 2
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(head[:line])  # the request line, then the headers a byte at a time
        stop = threading.Event()
        dripper = threading.Thread(target=_drip, args=(sock, head[line:], 0.1, stop))
        dripper.start()
        try:
            reply = rawhttp.read_reply(sock)
        finally:
            stop.set()
            dripper.join()
        assert reply is not None and reply.status == 408
        assert reply.json()["type"] == "error"  # type: ignore[index]  # Anthropic's shape
        assert reply.headers["x-should-retry"] == "false"
        assert rawhttp.closed_by_peer(sock)


def test_a_head_that_stops_half_way_gets_408(gateway: Proc) -> None:
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 408
        assert reply.json()["error"]["code"] == "request_timeout"  # type: ignore[index]
        assert rawhttp.closed_by_peer(sock)


def _rows(gateway: Proc, rid: str, wait: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while True:
        rows: list[dict[str, Any]] = httpx.get(
            gateway.url + "/admin/logs", params={"request_id": rid}
        ).json()["rows"]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_a_promised_body_that_never_comes_gets_408_and_a_408_row(gateway: Proc) -> None:
    rid = f"stalled-body-{time.time_ns()}"
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: %b\r\n"
            b'Content-Length: 1000\r\n\r\n{"model"' % rid.encode()
        )
        reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 408
        assert rawhttp.closed_by_peer(sock)
    (row,) = _rows(gateway, rid)
    assert row["status"] == 408 and row["error"] == "body_timeout"


def test_a_slow_but_steady_body_is_served(gateway: Proc) -> None:
    """The body timeout is a silence, not a total: bytes every 0.1 s keep it alive past 1 s."""
    head = rawhttp.post("/v1/chat/completions", BODY, "Connection: close")
    split = head.index(b"\r\n\r\n") + 4
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(head[:split])
        stop = threading.Event()
        _drip(sock, head[split:], 0.05, stop)  # about 3 s in all: several body timeouts
        reply = rawhttp.read_reply(sock)
    assert reply is not None and reply.status == 200


def test_idle_connections_are_closed_whatever_their_number(gateway: Proc) -> None:
    socks = [rawhttp.connect(gateway.port) for _ in range(100)]
    used = rawhttp.connect(gateway.port)  # idle after one request (keep-alive)
    used.sendall(rawhttp.post("/v1/chat/completions", BODY))
    assert (reply := rawhttp.read_reply(used)) is not None and reply.status == 200
    stalled = []
    for _ in range(100):
        sock = rawhttp.connect(gateway.port)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n")
        stalled.append(sock)
    try:
        assert all(rawhttp.closed_by_peer(s) for s in [*socks, used, *stalled])
    finally:
        for sock in [*socks, used, *stalled]:
            sock.close()


def test_a_client_that_stops_reading_its_stream_is_dropped(gateway: Proc, mock: Proc) -> None:
    """Not in the issue: a stream nobody reads used to hold its response, and through
    back-pressure its upstream call, forever."""
    before = httpx.get(mock.url + "/_mock/stats").json()["cancelled_streams"]
    rid = f"never-reads-{time.time_ns()}"
    body = BODY[:-1] + b',"stream":true}'
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up at once
    sock.connect(("127.0.0.1", gateway.port))
    try:
        sock.sendall(
            rawhttp.post(
                "/v1/chat/completions", body, f"X-Request-Id: {rid}", "X-Mock-Tokens: 100000"
            )
        )
        # Never read. The gateway gives up on the client, and so on the upstream stream.
        (row,) = _rows(gateway, rid, wait=60)
        assert row["status"] == 499 and row["error"] == "client_disconnected"
        stats = httpx.get(mock.url + "/_mock/stats").json()
        assert stats["cancelled_streams"] > before
    finally:
        sock.close()


def test_past_max_concurrency_the_answer_is_a_503_in_the_clients_protocol(
    mock: Proc, tmp_path: Path
) -> None:
    """Before: uvicorn's plain-text "Service Unavailable", which no SDK could read. Now each
    SDK reads a retryable 503 in its own shape, with Retry-After; and the limit-th connection
    is served."""
    import anthropic
    import openai

    config = {
        "server": {"max_concurrency": 1},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(config, tmp_path)
    try:
        # One client alone is served (uvicorn's check counted its own connection: a limit of
        # 1 served nothing).
        with openai.OpenAI(api_key="x", base_url=proc.url + "/v1", max_retries=0) as alone:
            answer = alone.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices
        with rawhttp.connect(proc.port):  # the one connection allowed, held open
            oa = openai.OpenAI(api_key="x", base_url=proc.url + "/v1", max_retries=0)
            with pytest.raises(openai.InternalServerError) as caught:
                oa.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            assert caught.value.status_code == 503
            assert caught.value.response.headers["retry-after"] == "1"
            assert caught.value.code == "overloaded"
            an = anthropic.Anthropic(api_key="x", base_url=proc.url, max_retries=0)
            with pytest.raises(anthropic.InternalServerError) as other:
                an.messages.create(
                    model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
                )
            assert other.value.status_code == 503
            assert other.value.body["type"] == "error"  # type: ignore[index]
    finally:
        proc.stop()

"""The HTTP/1.1 pool against scripted servers, on asyncio and uvloop: framing, reuse,
no replay, stale connections, cancellation, back-pressure, TLS."""

from __future__ import annotations

import asyncio
import gc
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from tests.support.wait import until_async
from turnout.upstream.h1 import ConnectionClosedError, Pool
from turnout.upstream.h1.connection import Connection
from turnout.upstream.h1.response import Response, ResponseTimeout

LOOPS = pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Srv"], Awaitable[None]]


class Srv:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.conns = 0
        self.active = 0
        self.max_active = 0
        self.server: asyncio.Server | None = None

    async def _cb(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.conns += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await self.handler(r, w, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            w.close()

    async def start(self, ssl_ctx: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._cb, "127.0.0.1", 0, ssl=ssl_ctx)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


async def read_request(r: asyncio.StreamReader) -> bytes:
    head = await r.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    return head + (await r.readexactly(n) if n else b"")


CL_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


async def keepalive_cl(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
    while True:
        await read_request(r)
        w.write(CL_OK)
        await w.drain()


def run(loop_factory: LoopFactory, coro: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(asyncio.wait_for(coro, 10))


@LOOPS
def test_content_length_and_reuse(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        srv = Srv(keepalive_cl)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            for _ in range(5):
                resp = await pool.request(b"POST", b"/x", [(b"a", b"b")], b"{}")
                assert resp.status == 200
                assert await resp.read() == b"hello"
        assert srv.conns == 1
        await srv.stop()

    run(loop_factory, main())


async def chunked_bytewise(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
    while True:
        await read_request(r)
        raw = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n"
            b"1\r\n \r\n"
            b"a\r\n0123456789\r\n"
            b"0\r\nX-Trailer: yes\r\n\r\n"
        )
        for i in range(len(raw)):  # worst case framing: one byte per segment
            w.write(raw[i : i + 1])
            await w.drain()
            await asyncio.sleep(0)


@LOOPS
def test_chunked_split_bytewise_with_ext_and_trailer(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        srv = Srv(chunked_bytewise)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            for _ in range(3):
                resp = await pool.request(b"POST", b"/", body=b"x")
                chunks = [c async for c in resp]
                assert b"".join(chunks) == b"hello 0123456789"
        assert srv.conns == 1
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_streaming_is_incremental(loop_factory: LoopFactory) -> None:
    gate: dict[str, asyncio.Event] = {}

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await w.drain()
        await gate["ev"].wait()  # second chunk only after the client saw the first
        w.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await w.drain()
        await read_request(r)
        w.write(CL_OK)

    async def main() -> None:
        gate["ev"] = asyncio.Event()
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            resp = await pool.request(b"POST", b"/", body=b"x")
            it = aiter(resp)
            assert await anext(it) == b"first"
            gate["ev"].set()
            assert await anext(it) == b"second"
            with pytest.raises(StopAsyncIteration):
                await anext(it)
            resp2 = await pool.request(b"POST", b"/", body=b"x")
            assert await resp2.read() == b"hello"
        assert srv.conns == 1
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_connection_close_not_reused(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()
        await asyncio.sleep(0.05)

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            for _ in range(3):
                resp = await pool.request(b"POST", b"/", body=b"x")
                assert await resp.read() == b"ok"
            assert not pool._idle
        assert srv.conns == 3
        await srv.stop()

    run(loop_factory, main())


def _cyclic_garbage(*modules: str) -> list[str]:
    """The types of the objects the cyclic GC would free now that come from ``modules``. Only
    those: another test's thread still winding down in this process (the suite runs in two
    processes, modules in any order) may leave cycles of its own meanwhile."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted(
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in gc.garbage
            if type(o).__module__.startswith(modules)
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_closed_connection_leaves_no_cycle() -> None:
    """A connection the server closes is freed by reference counting: its parser held its
    callbacks, a cycle that left the connection (and its response) to the cyclic GC, which
    the gateway runs seldom (turnout.allocator). On uvloop, the gateway's loop: asyncio's own
    socket transports leave cycles of their own."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            for _ in range(2):  # warm: first-use caches are not per connection
                assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"ok"
            await until_async(lambda: pool._n_conns == 0)
            gc.collect()
            gc.disable()
            try:
                for _ in range(20):
                    assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"ok"
                await until_async(lambda: pool._n_conns == 0)
                assert _cyclic_garbage("turnout.", "uvloop", "httptools") == []
            finally:
                gc.enable()
        await srv.stop()

    run(uvloop.new_event_loop, main())


@LOOPS
def test_eof_delimited_body(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\n\r\npart1")
        await w.drain()
        await asyncio.sleep(0.01)
        w.write(b"part2")
        await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            resp = await pool.request(b"POST", b"/", body=b"x")
            assert await resp.read() == b"part1part2"
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_interim_100_is_skipped(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await w.drain()
        w.write(b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc")
        await read_request(r)
        w.write(CL_OK)

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            resp = await pool.request(b"POST", b"/", body=b"x")
            assert resp.status == 201
            assert (b"X-A", b"1") in resp.headers
            assert await resp.read() == b"abc"
            assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"hello"
        assert srv.conns == 1
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_a_request_the_server_accepted_is_never_sent_twice(loop_factory: LoopFactory) -> None:
    """The server reads the second POST on a reused connection and drops it unanswered: the
    caller gets the error, and no second copy reaches any connection."""
    received = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        received.append(await read_request(r))
        w.write(CL_OK)
        await w.drain()
        received.append(await read_request(r))  # accept the 2nd request, then drop it

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"hello"
            with pytest.raises(ConnectionClosedError) as ei:
                await pool.request(b"POST", b"/", body=b"y")
            assert ei.value.before_response
        await srv.stop()
        assert srv.conns == 1
        assert len(received) == 2

    run(loop_factory, main())


@LOOPS
def test_an_idle_connection_the_server_closed_is_not_used(loop_factory: LoopFactory) -> None:
    """A keep-alive connection closed while idle is dropped from the pool before any byte of
    the next request is written: that request goes out once, on a new connection."""
    received = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        received.append(await read_request(r))
        w.write(CL_OK)
        await w.drain()  # ... and close the connection (keep-alive was not refused)

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"hello"
            for _ in range(500):  # until the client has seen the close
                if not pool._idle:
                    break
                await asyncio.sleep(0.01)
            assert await (await pool.request(b"POST", b"/", body=b"y")).read() == b"hello"
        await srv.stop()
        assert srv.conns == 2
        assert len(received) == 2

    run(loop_factory, main())


@LOOPS
def test_keep_alive_timeout_shortens_reuse(loop_factory: LoopFactory) -> None:
    """``Keep-Alive: timeout=1`` from the server: the connection is not reused after it."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        while True:
            await read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 5\r\n\r\nhello")
            await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            await (await pool.request(b"GET", b"/")).read()
            conn = pool._idle[-1]
            assert conn.idle_limit == 0.0  # timeout=1 minus a second of margin
            conn.idle_since -= 0.001
            await (await pool.request(b"GET", b"/")).read()
        await srv.stop()
        assert srv.conns == 2

    run(loop_factory, main())


@LOOPS
def test_closed_mid_body_raises(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-some")
        await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            resp = await pool.request(b"POST", b"/", body=b"x")
            with pytest.raises(ConnectionClosedError):
                await resp.read()
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_garbage_after_response_discards_connection(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        w.write(CL_OK + b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ")
        await w.drain()
        try:
            while True:
                await read_request(r)
                w.write(CL_OK)
                await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"hello"
            # The bytes after the answer reach the idle connection, which is closed for them.
            await until_async(lambda: all(c.closed for c in pool._idle))
            assert await (await pool.request(b"POST", b"/", body=b"x")).read() == b"hello"
        assert srv.conns == 2
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_cancel_while_waiting_aborts_connection(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        while True:
            req = await read_request(r)
            if b"/slow" in req:
                await asyncio.sleep(0.2)
            w.write(CL_OK)
            await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await pool.request(b"POST", b"/slow", body=b"x")
            # the late reply must not be mistaken for this one
            assert await (await pool.request(b"POST", b"/fast", body=b"x")).read() == b"hello"
        assert srv.conns == 2
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_a_request_cancelled_before_the_head_leaves_no_response(
    loop_factory: LoopFactory,
) -> None:
    """Cancelled while waiting for the head, the response's read-timeout timer goes with it:
    armed, the loop kept the response and its connection for ``read_timeout``."""
    got = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        await read_request(r)
        got.set()
        await r.read()  # never answers; returns when the pool drops the connection

    def responses() -> int:
        gc.collect()
        return sum(type(o) is Response for o in gc.get_objects())

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            call = asyncio.create_task(pool.request(b"POST", b"/x", body=b"x", read_timeout=300.0))
            await got.wait()
            assert responses() == 1
            call.cancel()
            await asyncio.wait([call])
            assert call.cancelled()
            del call
            assert responses() == 0
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_max_connections_limits_concurrency(loop_factory: LoopFactory) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        while True:
            await read_request(r)
            await asyncio.sleep(0.01)
            w.write(CL_OK)
            await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port, max_connections=2) as pool:

            async def one() -> bytes:
                return await (await pool.request(b"POST", b"/", body=b"x")).read()

            assert await asyncio.gather(*[one() for _ in range(20)]) == [b"hello"] * 20
        assert srv.conns == 2
        assert srv.max_active == 2
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_slow_consumer_pauses_reading(loop_factory: LoopFactory) -> None:
    big = b"x" * 65536

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        while True:
            await read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(64):
                w.write(b"%x\r\n%s\r\n" % (len(big), big))
                await w.drain()
            w.write(b"0\r\n\r\n")
            await w.drain()

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port, high_water=128 * 1024) as pool:
            resp = await pool.request(b"POST", b"/", body=b"x")
            conn = resp._conn
            assert conn is not None
            pauses: list[bool] = []
            orig_pause = Connection.pause

            def counting_pause(self: Connection) -> None:
                pauses.append(self.paused)
                orig_pause(self)

            Connection.pause = counting_pause  # type: ignore[method-assign]
            total = 0
            async for chunk in resp:
                total += len(chunk)
                assert len(chunk) <= 128 * 1024 + 65536 * 2  # bounded by high water + 1 read
                await asyncio.sleep(0.002)
            assert total == 64 * len(big)
            Connection.pause = orig_pause  # type: ignore[method-assign]
            assert pauses  # reading was paused at least once
            assert not conn.paused
            r2 = await pool.request(b"POST", b"/", body=b"x")
            assert len(await r2.read()) == 64 * len(big)
        assert srv.conns == 1
        await srv.stop()

    run(loop_factory, main())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


@LOOPS
def test_tls_with_verification(loop_factory: LoopFactory, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files

    async def main() -> None:
        sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sctx.load_cert_chain(cert, key)
        srv = Srv(chunked_bytewise)
        port = await srv.start(sctx)
        cctx = ssl.create_default_context(cafile=str(cert))
        async with Pool("127.0.0.1", port, ssl=cctx, server_hostname="localhost") as pool:
            for _ in range(3):
                resp = await pool.request(b"POST", b"/", body=b"x")
                assert b"".join([c async for c in resp]) == b"hello 0123456789"
        assert srv.conns == 1
        # wrong hostname must fail verification
        async with Pool("127.0.0.1", port, ssl=cctx, server_hostname="evil.example") as pool:
            with pytest.raises(ssl.SSLCertVerificationError):
                await pool.request(b"POST", b"/", body=b"x")
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_a_head_that_never_ends_is_refused_at_its_bound(loop_factory: LoopFactory) -> None:
    """An upstream that sends header lines for ever: the response fails once MAX_HEAD bytes
    of head have arrived (what the gateway holds of it is bounded), the connection is
    dropped, and the next request gets a fresh one."""
    from turnout.upstream.h1.connection import MAX_HEAD
    from turnout.upstream.h1.response import UpstreamError

    sent = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        nonlocal sent
        await read_request(r)
        if srv.conns == 1:
            w.write(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
            while sent < 4 * MAX_HEAD:
                w.write(line * 16)
                sent += 16 * len(line)
                await w.drain()
            return
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  1\r\n\r\nhello")

    async def main() -> None:
        srv = Srv(handler)
        port = await srv.start()
        async with Pool("127.0.0.1", port) as pool:
            with pytest.raises(UpstreamError, match="head over"):
                await pool.request(b"POST", b"/", body=b"x")
            resp = await pool.request(b"POST", b"/", body=b"x")
            assert (b"X-A", b"1") in resp.headers and await resp.read() == b"hello"
        assert srv.conns == 2
        await srv.stop()

    run(loop_factory, main())


async def _scripted(script: list[asyncio.Event | None]) -> tuple[Srv, int]:
    """A keep-alive server answering its n-th request when ``script[n]`` is set (None: at
    once), and never once the script has run out."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, srv: Srv) -> None:
        for gate in script:
            await read_request(r)
            if gate is not None:
                await gate.wait()
            w.write(CL_OK)
            await w.drain()
        await r.read()

    srv = Srv(handler)
    return srv, await srv.start()


@LOOPS
def test_a_reused_connection_arms_no_timer_of_its_own(loop_factory: LoopFactory) -> None:
    """The connection's read-timeout timer stays armed across its requests: a later request
    whose timeout falls after it reuses it instead of arming one per request."""

    async def main() -> None:
        srv, port = await _scripted([None, None, None])
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"GET", b"/", read_timeout=300.0)).read() == b"hello"
            conn = pool._idle[0]
            timer = conn._timer
            assert timer is not None
            for _ in range(2):
                resp = await pool.request(b"GET", b"/", read_timeout=300.0)
                assert await resp.read() == b"hello"
                assert pool._idle[0] is conn and conn._timer is timer
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_a_shorter_timeout_on_a_reused_connection_still_fires(loop_factory: LoopFactory) -> None:
    """A request's timeout earlier than the connection's timer re-arms it earlier: the silent
    upstream is given up on after 0.2 s, not after the first request's 300 s."""

    async def main() -> None:
        srv, port = await _scripted([None])  # answers once, then never again
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"GET", b"/", read_timeout=300.0)).read() == b"hello"
            with pytest.raises(ResponseTimeout, match="silence"):
                await asyncio.wait_for(pool.request(b"GET", b"/", read_timeout=0.2), 60)
        await srv.stop()

    run(loop_factory, main())


@LOOPS
def test_an_earlier_timer_does_not_cut_a_longer_request(loop_factory: LoopFactory) -> None:
    """The timer armed for a short first request fires during a longer second one: it finds
    that response within its own timeout and re-arms for it."""

    async def main() -> None:
        gate = asyncio.Event()
        srv, port = await _scripted([None, gate])
        async with Pool("127.0.0.1", port) as pool:
            assert await (await pool.request(b"GET", b"/", read_timeout=0.2)).read() == b"hello"
            conn = pool._idle[0]
            first = conn._timer
            assert first is not None
            call = asyncio.create_task(pool.request(b"GET", b"/", read_timeout=60.0))
            # The first request's timer fires and re-arms for this response; then it answers.
            await until_async(lambda: conn._timer is not None and conn._timer is not first)
            gate.set()
            assert await (await call).read() == b"hello"
        await srv.stop()

    run(loop_factory, main())

"""Minimal pooled HTTP/1.1 upstream client: asyncio.Protocol + httptools.HttpResponseParser.

Candidate for Switchyard's upstream hop. One ``Pool`` per (scheme, host, port)::

    pool = Pool("api.openai.com", 443, ssl=ssl.create_default_context())
    resp = await pool.request(b"POST", b"/v1/chat/completions",
                              [(b"content-type", b"application/json"),
                               (b"authorization", b"Bearer ...")], body)
    resp.status, resp.headers            # int, list[(bytes, bytes)] as received
    data = await resp.read()             # whole body, or:
    async for chunk in resp: ...         # body as it arrives (de-chunked), no buffering
    resp.close()                         # aborts the connection if the body is unfinished
    await pool.close()

Design:
* keep-alive pool, LIFO reuse, optional ``max_connections`` (waiters are FIFO), idle
  connections older than ``idle_timeout`` are closed instead of reused;
* one ``transport.write`` per request (head + body), TCP_NODELAY;
* response framing is llhttp's (Content-Length, chunked incl. extensions/trailers,
  1xx interim responses skipped, EOF-delimited bodies finished on connection close);
* a connection goes back to the pool the moment its response has been fully parsed
  (the body bytes already live in the ``Response``), unless the server said
  ``Connection: close`` / HTTP/1.0 without keep-alive;
* body chunks are handed over through a list + one waiter future (no asyncio.Queue);
  everything that arrived in one ``data_received`` is returned by one ``__anext__``;
* flow control: reading from the upstream socket is paused when more than
  ``high_water`` body bytes are waiting for a slow consumer, resumed when drained;
* a request that fails on a *reused* connection before any response byte arrived
  (server closed an idle keep-alive connection under us) is retried once on a fresh
  connection (``retry_stale=True``). Note: for non-idempotent POSTs this is the same
  trade-off every pooled client makes; set ``retry_stale=False`` to disable;
* TLS: ``ssl=`` is passed straight to ``loop.create_connection`` (works with asyncio
  and uvloop); SNI/verification use ``server_hostname`` (defaults to ``host``).

Not supported (by design, for now): HTTP/2, pipelining, request body streaming,
``Expect: 100-continue`` handling, HEAD requests (llhttp would wait for a body),
upgrades, proxies, decompression, per-request timeouts (wrap in ``asyncio.timeout``;
cancellation is handled: the connection is aborted, never reused).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as _ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httptools

__all__ = ["ConnectionClosedError", "Pool", "Response", "UpstreamError"]


class UpstreamError(Exception):
    """Protocol-level failure talking to the upstream."""


class ConnectionClosedError(UpstreamError):
    """The upstream closed the connection before the response was complete."""

    def __init__(self, msg: str, *, before_response: bool) -> None:
        super().__init__(msg)
        self.before_response = before_response


_EMPTY = b""


class Response:
    """An HTTP response whose body may still be arriving."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_done",
        "_exc",
        "_got_bytes",
        "_head_done",
        "_high_water",
        "_waiter",
        "headers",
        "status",
    )

    def __init__(self, conn: _Conn, high_water: int) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._conn: _Conn | None = conn
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._high_water = high_water
        self._head_done = False
        self._done = False
        self._got_bytes = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- producer side (called from the protocol) --------------------------------------
    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > self._high_water and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._conn = None
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if not self._done:
            self._exc = exc
            self._done = True
        self._conn = None
        self._wake()

    # -- consumer side -----------------------------------------------------------------
    async def _wait(self) -> None:
        w = self._waiter
        if w is None or w.done():  # a previous waiter may have been cancelled
            w = self._waiter = asyncio.get_running_loop().create_future()
        await w

    def _take(self) -> bytes:
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else _EMPTY.join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._conn is not None and self._conn.paused:
            self._conn.resume()
        return data

    async def read(self) -> bytes:
        """Return the whole (remaining) body (drained as it arrives, so no pause deadlock)."""
        parts: list[bytes] = []
        while True:
            if self._chunks:
                parts.append(self._take())
            if self._done:
                break
            await self._wait()
        if self._exc is not None:
            raise self._exc
        return parts[0] if len(parts) == 1 else _EMPTY.join(parts)

    def __aiter__(self) -> Response:
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._chunks:
                return self._take()
            if self._done:
                if self._exc is not None:
                    raise self._exc
                raise StopAsyncIteration
            await self._wait()

    @property
    def complete(self) -> bool:
        return self._done and self._exc is None

    def close(self) -> None:
        """Release the response; an unfinished body means the connection cannot be reused."""
        conn = self._conn
        if conn is not None and not self._done:
            conn.abort()
        self._fail(ConnectionClosedError("response closed by caller", before_response=False))
        self._chunks.clear()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Conn(asyncio.Protocol):
    __slots__ = (
        "_body_mode",
        "_interim",
        "closed",
        "idle_since",
        "parser",
        "paused",
        "pool",
        "resp",
        "reused",
        "transport",
    )

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.resp: Response | None = None
        self.closed = False
        self.paused = False
        self.reused = False
        self.idle_since = 0.0
        self._interim = False
        self._body_mode = 0  # 0: none/unknown, 1: content-length, 2: chunked

    # -- transport callbacks -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        r = self.resp
        if r is None:  # unsolicited bytes on an idle connection: not reusable
            self.abort()
            return
        r._got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._error(UpstreamError("protocol upgrade not supported"))
        except httptools.HttpParserError as e:
            self._error(UpstreamError(f"invalid HTTP response: {e}"))

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost decides the outcome

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.pool._forget(self)
        r = self.resp
        if r is None:
            return
        self.resp = None
        if r._head_done and self._body_mode == 0 and not self._interim:
            r._finish()  # body delimited by connection close
        else:
            err = ConnectionClosedError(
                f"upstream closed the connection mid-response: {exc!r}",
                before_response=not r._got_bytes,
            )
            if exc is not None:
                err.__cause__ = exc
            r._fail(err)

    # -- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.resp is None:  # bytes after a complete response: not a valid HTTP/1.1 reply
            raise UpstreamError("unexpected data after response")
        self._interim = False
        self._body_mode = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        r = self.resp
        if r is not None:
            r.headers.append((name, value))
            if len(name) in (14, 17):
                n = name.lower()
                if n == b"content-length":
                    self._body_mode = 1
                elif n == b"transfer-encoding" and b"chunked" in value.lower():
                    self._body_mode = 2

    def on_headers_complete(self) -> None:
        r = self.resp
        if r is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim response: wait for the real one
            self._interim = True
            r.headers = []
            return
        r.status = status
        r._head_done = True
        r._wake()

    def on_body(self, body: bytes) -> None:
        r = self.resp
        if r is not None:
            r._feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        r = self.resp
        self.resp = None
        keep = self.parser.should_keep_alive()
        if r is not None:
            r._finish()
        if self.paused:  # paused by a slow consumer while the last bytes were parsed
            self.resume()
        if keep and not self.closed:
            self.pool._release(self)
        else:
            self.close()

    # -- helpers -----------------------------------------------------------------------
    def _error(self, exc: BaseException) -> None:
        r = self.resp
        self.resp = None
        if r is not None:
            r._fail(exc)
        self.abort()

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.transport is not None:
                self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Keep-alive connection pool to one origin."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        max_connections: int | None = None,
        max_idle: int = 1024,
        idle_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        high_water: int = 1 << 20,
        retry_stale: bool = True,
        default_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server_hostname = (server_hostname or host) if ssl is not None else None
        self.max_connections = max_connections
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.high_water = high_water
        self.retry_stale = retry_stale
        default_port = 443 if ssl is not None else 80
        host_hdr = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_hdr = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        self._host_line = b"Host: " + host_hdr.encode("ascii")
        self._default_headers = b"".join(b"\r\n" + k + b": " + v for k, v in default_headers)
        self._idle: deque[_Conn] = deque()
        self._waiters: deque[asyncio.Future[_Conn | None]] = deque()
        self._n_conns = 0  # open or opening connections
        self._closed = False

    # -- pool internals ----------------------------------------------------------------
    def _release(self, conn: _Conn) -> None:
        conn.reused = True
        if self._closed:
            conn.close()
            return
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(conn)
                return
        loop_time = asyncio.get_running_loop().time()
        conn.idle_since = loop_time
        idle = self._idle
        idle.append(conn)
        # expire the oldest idle connections (left end) lazily
        while idle and (
            len(idle) > self.max_idle or loop_time - idle[0].idle_since > self.idle_timeout
        ):
            idle.popleft().close()

    def _forget(self, conn: _Conn) -> None:
        self._n_conns -= 1
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
        # a slot freed up: let one waiter open a new connection
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(None)
                break

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        self._n_conns += 1
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Conn(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname,
                ),
                self.connect_timeout,
            )
        except BaseException:
            self._n_conns -= 1
            raise
        return conn

    async def _acquire(self, fresh: bool = False) -> _Conn:
        if self._closed:
            raise UpstreamError("pool is closed")
        if not fresh:
            idle = self._idle
            now = 0.0
            while idle:
                conn = idle.pop()
                if conn.closed:
                    continue
                if not now:
                    now = asyncio.get_running_loop().time()
                if now - conn.idle_since > self.idle_timeout:
                    conn.close()
                    continue
                return conn
        while self.max_connections is not None and self._n_conns >= self.max_connections:
            w: asyncio.Future[_Conn | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(w)
            try:
                conn_or_none = await w
            except BaseException:
                if w.done() and not w.cancelled() and w.result() is not None:
                    self._release(w.result())  # type: ignore[arg-type]
                raise
            if conn_or_none is not None and not conn_or_none.closed:
                return conn_or_none
        return await self._connect()

    # -- public API --------------------------------------------------------------------
    async def request(
        self,
        method: bytes,
        path: bytes,
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
    ) -> Response:
        """Send a request and return once the response status line and headers are in."""
        head = b"".join(
            (
                method,
                b" ",
                path,
                b" HTTP/1.1\r\n",
                self._host_line,
                self._default_headers,
                b"".join(b"\r\n" + k + b": " + v for k, v in headers),
                b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                if body or method != b"GET"
                else b"\r\n\r\n",
            )
        )
        payload = head + body if body else head
        fresh = False
        while True:
            conn = await self._acquire(fresh)
            if conn.transport is None:  # lost between connect/hand-over and now
                if fresh:
                    raise ConnectionClosedError(
                        "connection lost before sending", before_response=True
                    )
                fresh = True
                continue
            reused = conn.reused
            resp = Response(conn, self.high_water)
            conn.resp = resp
            conn.transport.write(payload)
            try:
                while not resp._head_done:
                    if resp._done:  # failed before the head arrived
                        exc = resp._exc
                        if (
                            self.retry_stale
                            and reused
                            and isinstance(exc, ConnectionClosedError)
                            and exc.before_response
                            and not fresh
                        ):
                            fresh = True
                            break
                        raise exc  # type: ignore[misc]
                    await resp._wait()
                else:
                    return resp
            except BaseException:
                # cancelled / failed while the response is pending: connection is unusable
                if conn.resp is resp:
                    conn.resp = None
                    conn.abort()
                raise

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_exception(UpstreamError("pool is closed"))

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

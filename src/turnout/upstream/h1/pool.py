"""Keep-alive connection pool to one origin.

LIFO reuse (the warmest connection first), ``max_connections`` with FIFO waiters that give up
after ``pool_timeout``, idle connections past ``idle_timeout`` (or the server's own
``Keep-Alive: timeout``) closed instead of reused, one ``transport.write`` per request (head and
body together) with TCP_NODELAY.

**No replay.** A request is sent again only when its connection was found closed *before* any
byte of it was written (an idle keep-alive connection the server had already closed). Once the
bytes are handed to the transport the server may have them, so a failure after that surfaces to
the caller: re-sending a POST there could bill a generation twice.

How a connection is opened is the ``connector``'s business (direct, through the outbound
policy's checked addresses, through a proxy tunnel); by default ``loop.create_connection`` to
``host:port`` with the ``ssl`` context.

Not supported, by design: HTTP/2, pipelining, request-body streaming, ``Expect: 100-continue``,
HEAD requests, upgrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from turnout.upstream.h1.connection import Connection
from turnout.upstream.h1.response import ConnectionClosedError, Response, UpstreamError

Connector = Callable[
    [Callable[[], Connection]], Awaitable[tuple[asyncio.BaseTransport, Connection]]
]


class PoolTimeout(UpstreamError):
    """Every connection the pool may open was busy for ``pool_timeout`` seconds."""


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
        pool_timeout: float | None = None,
        max_idle: int = 1024,
        idle_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        high_water: int = 1 << 20,
        default_headers: Iterable[tuple[bytes, bytes]] = (),
        connector: Connector | None = None,
        target_prefix: bytes = b"",
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server_hostname = (server_hostname or host) if ssl is not None else None
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.connector = connector
        self.target_prefix = target_prefix  # absolute-form requests to an HTTP proxy
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.high_water = high_water
        default_port = 443 if ssl is not None else 80
        host_hdr = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_hdr = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        self._host_line = b"Host: " + host_hdr.encode("ascii")
        self._default_headers = b"".join(b"\r\n" + k + b": " + v for k, v in default_headers)
        self._idle: deque[Connection] = deque()
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._n_conns = 0  # open or opening connections
        self._closed = False
        self._sweeper: asyncio.TimerHandle | None = None  # closes idle ones nobody reuses
        # The loop its connections belong to, known from the first request: on Python 3.11
        # every asyncio.get_running_loop() asks the kernel for the process id.
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- pool internals ----------------------------------------------------------------
    def _release(self, conn: Connection) -> None:
        conn.reused = True
        if self._closed:
            conn.close()
            return
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(conn)
                return
        loop_time = conn.loop.time()
        conn.idle_since = loop_time
        idle = self._idle
        idle.append(conn)
        # expire the oldest idle connections (left end) lazily
        while idle and (
            len(idle) > self.max_idle or loop_time - idle[0].idle_since > idle[0].idle_limit
        ):
            idle.popleft().close()
        if self._sweeper is None and idle:  # and once no request comes back to release one
            self._sweeper = conn.loop.call_at(idle[0].idle_since + idle[0].idle_limit, self._sweep)

    def _sweep(self) -> None:
        """Close the idle connections past their limit even when no request comes (a pool
        whose provider a reload removed, a model nobody asks for any more): they were kept
        open until the upstream closed them, which some never do."""
        self._sweeper = None
        idle = self._idle
        if not idle:
            return
        now = idle[0].loop.time()
        while idle and now - idle[0].idle_since >= idle[0].idle_limit:
            idle.popleft().close()
        if idle:
            self._sweeper = idle[0].loop.call_at(
                idle[0].idle_since + idle[0].idle_limit, self._sweep
            )

    @property
    def unused(self) -> bool:
        """No connection open or opening, nobody waiting: the pool holds nothing."""
        return self._n_conns == 0 and not self._waiters

    def _forget(self, conn: Connection) -> None:
        self._n_conns -= 1
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
        # a slot freed up: let one waiter open a new connection
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(None)
                break

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        self._n_conns += 1
        try:
            if self.connector is not None:
                opening = self.connector(lambda: Connection(self))
            else:
                opening = loop.create_connection(
                    lambda: Connection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname,
                )
            _, conn = await asyncio.wait_for(opening, self.connect_timeout)
        except BaseException:
            self._n_conns -= 1
            raise
        return conn

    async def _acquire(self, fresh: bool = False) -> Connection:
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
                    now = conn.loop.time()
                if now - conn.idle_since > conn.idle_limit:
                    conn.close()
                    continue
                return conn
        while self.max_connections is not None and self._n_conns >= self.max_connections:
            w: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(w)
            try:
                if self.pool_timeout is None:
                    conn_or_none = await w
                else:
                    async with asyncio.timeout(self.pool_timeout):
                        conn_or_none = await w
            except TimeoutError:
                if w.done() and not w.cancelled() and w.result() is not None:
                    self._release(w.result())  # type: ignore[arg-type]
                raise PoolTimeout(
                    f"all {self.max_connections} connections busy for {self.pool_timeout:g} s"
                ) from None
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
        *,
        read_timeout: float = 300.0,
        total: float | None = None,
    ) -> Response:
        """Send a request and return once the response status line and headers are in.

        ``read_timeout`` bounds every silence (waiting for the head, then between body reads);
        ``total`` (seconds) bounds the whole exchange. Either fails the response with
        :class:`ResponseTimeout` and aborts the connection.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + (1e9 if total is None else total)
        head = b"".join(
            (
                method,
                b" ",
                self.target_prefix,
                path,
                b" HTTP/1.1\r\n",
                self._host_line,
                self._default_headers,
                b"\r\n" + b"\r\n".join(map(b": ".join, headers)) if headers else b"",
                b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                if body or method != b"GET"
                else b"\r\n\r\n",
            )
        )
        payload = head + body if body else head
        fresh = False
        while True:
            conn = await self._acquire(fresh)
            transport = conn.transport
            if transport is None or conn.closed or transport.is_closing():
                # Closed before a byte of this request was written: the one safe retry.
                if fresh:
                    raise ConnectionClosedError(
                        "connection lost before sending", before_response=True
                    )
                conn.abort()
                fresh = True
                continue
            resp = Response(conn, self.high_water)
            resp.arm(loop, read_timeout, deadline)
            conn.resp = resp
            transport.write(payload)
            try:
                while not resp._head_done:
                    if resp._done:  # failed before the head arrived: never re-sent
                        raise resp._exc  # type: ignore[misc]
                    await resp._wait()
                return resp
            except BaseException:
                # cancelled / failed while the response is pending: connection is unusable
                # (its timer goes with it, in connection_lost)
                if conn.resp is resp:
                    conn.resp = None
                    conn.abort()
                raise

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
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

"""A response whose body may still be arriving, and the errors of the HTTP/1.1 client.

Body chunks are handed from the protocol to the consumer through a list and one waiter
future (no asyncio.Queue): everything that arrived in one ``data_received`` is returned by one
``__anext__``, so a stream costs one wake-up per network read, not per SSE frame. When a slow
consumer lets more than ``high_water`` bytes pile up, reading from the socket pauses.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from turnout.upstream.h1.connection import Connection

_EMPTY = b""


class UpstreamError(Exception):
    """Protocol-level failure talking to the upstream."""


class ResponseTimeout(UpstreamError):
    """No byte for ``read_timeout`` seconds, or the attempt outlived its deadline."""

    def __init__(self, msg: str, *, before_response: bool) -> None:
        super().__init__(msg)
        self.before_response = before_response


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
        "_deadline",
        "_done",
        "_exc",
        "_got_bytes",
        "_head_done",
        "_high_water",
        "_loop",
        "_read_timeout",
        "_waiter",
        "headers",
        "last_read",
        "status",
    )

    def __init__(self, conn: Connection, high_water: int) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._conn: Connection | None = conn
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._high_water = high_water
        self._head_done = False
        self._done = False
        self._got_bytes = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by arm()
        self._read_timeout = 0.0
        self._deadline = 0.0
        self.last_read = 0.0  # loop time of the last byte received (set by the connection)

    # -- timeouts: watched by the connection's one timer ---------------------------------
    def arm(self, loop: asyncio.AbstractEventLoop, read_timeout: float, deadline: float) -> None:
        """Fail the response after ``read_timeout`` seconds without a byte, or at ``deadline``.

        Reads only stamp ``last_read``, and the connection's timer (one for all the responses
        it carries, :meth:`Connection.watch`) re-checks when it fires early: a request costs
        no timer of its own, and a long stream one wake-up per ``read_timeout``.
        """
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._loop = loop
        self.last_read = now = loop.time()
        if self._conn is not None:
            self._conn.watch(min(now + read_timeout, deadline))

    def expired(self, now: float) -> ResponseTimeout | None:
        """The timeout this response has run into at ``now``, if any."""
        if now >= self._deadline:
            what = "deadline"
        elif now >= self.last_read + self._read_timeout:
            what = f"{self._read_timeout:g} s of silence"
        else:
            return None
        return ResponseTimeout(f"upstream timed out ({what})", before_response=not self._got_bytes)

    def next_check(self) -> float:
        """Loop time at which this response could next time out."""
        return min(self.last_read + self._read_timeout, self._deadline)

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
        if self._waiter is not None:  # one read parses many chunks: the first one wakes
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
            loop = self._loop or asyncio.get_running_loop()
            w = self._waiter = loop.create_future()
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

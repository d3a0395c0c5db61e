"""One keep-alive HTTP/1.1 connection: an asyncio Protocol parsing responses with llhttp
(httptools). Framing is llhttp's: Content-Length, chunked (extensions and trailers included),
1xx interim responses skipped, bodies delimited by connection close finished on close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import TYPE_CHECKING

import httptools

from turnout.upstream.h1.response import ConnectionClosedError, Response, UpstreamError

if TYPE_CHECKING:
    from turnout.upstream.h1.pool import Pool

# Bytes of a response's head (status line and headers) read before giving up on it: no
# provider sends more than a few kilobytes, and an upstream that never ends its head must not
# grow the gateway's memory (llhttp itself has no such limit).
MAX_HEAD = 256 * 1024


class Connection(asyncio.Protocol):
    __slots__ = (
        "_body_mode",
        "_head_bytes",
        "_interim",
        "_timer",
        "closed",
        "idle_limit",
        "idle_since",
        "loop",
        "parser",
        "paused",
        "pool",
        "resp",
        "reused",
        "transport",
    )

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.resp: Response | None = None
        self.closed = False
        self.paused = False
        self.reused = False
        self.idle_since = 0.0
        self.idle_limit = pool.idle_timeout  # lowered by the server's Keep-Alive: timeout=N
        self._interim = False
        self._body_mode = 0  # 0: none/unknown, 1: content-length, 2: chunked
        self._head_bytes = 0  # bytes read while the current response's head is incomplete
        # One timer for every response this connection carries (Response.arm), kept armed
        # across requests: a request on a reused connection arms nothing.
        self._timer: asyncio.TimerHandle | None = None

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
        if not r._got_bytes:
            self._head_bytes = 0
        r._got_bytes = True
        r.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._error(UpstreamError("protocol upgrade not supported"))
        except httptools.HttpParserError as e:
            self._error(UpstreamError(f"invalid HTTP response: {e}"))
        else:
            if not r._head_done:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD:
                    self._error(UpstreamError(f"response head over {MAX_HEAD} bytes"))

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost decides the outcome

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        # The parser holds this connection's callbacks: a cycle that only the cyclic GC would
        # free (with the response and buffers it reaches) once the connection is gone.
        del self.parser
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
            if len(name) in (10, 14, 17):
                n = name.lower()
                if n == b"content-length":
                    self._body_mode = 1
                elif n == b"transfer-encoding" and value.lower().find(b"chunked") >= 0:
                    self._body_mode = 2
                elif n == b"keep-alive":
                    self._keep_alive(value)

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

    # -- timeouts ----------------------------------------------------------------------
    def watch(self, expiry: float) -> None:
        """Have the timer fire by ``expiry`` (loop time). One already due earlier stays: it
        fires, finds the current response and re-arms for that response's own expiry."""
        timer = self._timer
        if timer is not None:
            # A millisecond of slack: uvloop keeps a timer's time in whole milliseconds, so a
            # later request's expiry on the same loop tick can read a hair earlier than the
            # timer's own (float rounding), which re-armed it for nothing.
            if timer.when() <= expiry + 0.001:
                return
            timer.cancel()
        self._timer = self.loop.call_at(expiry, self._expire)

    def _expire(self) -> None:
        self._timer = None
        r = self.resp
        if r is None or r._done:  # idle: the next request arms the timer again
            return
        exc = r.expired(self.loop.time())
        if exc is not None:
            self._error(exc)
            return
        self._timer = self.loop.call_at(r.next_check(), self._expire)

    # -- helpers -----------------------------------------------------------------------
    def _keep_alive(self, value: bytes) -> None:
        """Honour ``Keep-Alive: timeout=N``: stop reusing the connection a second before the
        server closes it, so a request is not written into a connection being closed."""
        for part in value.split(b","):
            key, _, num = part.strip().partition(b"=")
            if key.strip().lower() == b"timeout" and num.strip().isdigit():
                self.idle_limit = min(self.pool.idle_timeout, max(0.0, int(num) - 1.0))

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

"""One request and its response on a connection: the ASGI ``receive``/``send`` the app is
called with, written for the gateway's request path instead of uvicorn's cycle.

uvicorn's cycle costs about 20 µs of CPU per proxied request more than a protocol calling its
handler directly (``bench/candidates``: 45 µs against 22 µs per request for the same client,
docs/measurements.md). This one keeps the ASGI interface (every route, FastAPI's included,
runs on it) and uvicorn's semantics, with less work per request:

- a response's status line, headers and first body part leave in one write (uvicorn writes
  the head at ``http.response.start`` and the body separately: two system calls and two TCP
  segments for every answer), so a start is held until its first body message; a 204/304 or
  the answer to HEAD, which has no body to wait for, is written at once;
- the header block is checked with one pass over its names and one over its values (uvicorn
  runs two regular expressions per header) and built with one join; only a block with names
  not in lower case, ``transfer-encoding`` or ``connection``, or a ``content-length`` that is
  not its last header (the gateway puts it last), is read header by header;
- ``receive`` returns a body that has arrived without waiting on an event, and the event that
  wakes a waiting ``receive`` is made only when one waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from turnout.types import Headers

_DISCONNECT = {"type": "http.disconnect"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LENGTH = b"content-length"
# uvicorn's HEADER_RE and HEADER_VALUE_RE as byte sets: deleting them from the joined names
# (values) and comparing lengths is one table pass, ~3 times faster than the regular expressions'
# search (0.27 against 0.73 µs for the names of a 14-header answer).
_NOT_IN_NAMES = bytes(range(0x20)) + b'\x7f()<>@,;:[]={} \t\\"'
_NOT_IN_VALUES = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_NAME, _VALUE = itemgetter(0), itemgetter(1)
_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)


class Exchange:
    """Set up by the protocol when a request's head is complete; its body arrives through
    :meth:`feed` and :meth:`end`."""

    __slots__ = (
        "_event",
        "_held",
        "_read_all",
        "body",
        "chunked",
        "default_headers",
        "disconnected",
        "enforced",
        "expected",
        "flow",
        "head_only",
        "keep_alive",
        "logger",
        "more_body",
        "on_lost",
        "on_response",
        "response_complete",
        "response_started",
        "scope",
        "transport",
        "waiting_for_100_continue",
    )

    def __init__(
        self,
        scope: dict[str, Any],
        transport: asyncio.Transport,
        flow: FlowControl,
        default_headers: Headers,
        keep_alive: bool,
        expect_100_continue: bool,
        on_response: Callable[[], None],
        logger: logging.Logger,
    ) -> None:
        self.scope = scope
        self.transport = transport
        self.flow = flow
        self.default_headers = default_headers
        # Headers the application puts on this answer whatever it sends (turnout.api.inert):
        # written first, and the application's own of the same names are dropped.
        self.enforced: Enforced | None = None
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100_continue
        self.on_response = on_response
        self.logger = logger
        self.head_only = scope["method"] == "HEAD"  # a HEAD request: no body is written
        # Request state.
        self.body = b""
        self.more_body = True
        self.disconnected = False
        self._read_all = False  # the last body message was handed to the app
        self._event: asyncio.Event | None = None  # made when a receive waits
        # Called at once when the client leaves before the response is complete (a relayed
        # stream's disconnect watch): no task waiting on ``receive`` per stream.
        self.on_lost: Callable[[], None] | None = None
        # Response state.
        self._held: Any = None  # an ``http.response.start`` waiting for its first body
        self.response_started = False  # its head was written
        self.response_complete = False
        self.chunked = False
        self.expected = 0  # body bytes a content-length still promises

    # -- the protocol's side ----------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self.body += data
        self.wake()

    def end(self) -> None:
        self.more_body = False
        self.wake()

    def wake(self) -> None:
        if self._event is not None:
            self._event.set()

    def lost(self) -> None:
        """The client's connection is gone."""
        if not self.response_complete:
            self.disconnected = True
            if self.on_lost is not None:
                self.on_lost()
        self.wake()

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            # The protocol cancelled it: its client left before the answer began.
        except BaseException as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started and not self.disconnected:
                self._fail()
            else:
                self.transport.close()
        else:
            if result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
                self.transport.close()
            elif self.disconnected or self.response_complete:
                pass
            elif not self.response_started and self._held is None:
                self.logger.error("ASGI callable returned without starting response.")
                self._fail()
            else:
                self.logger.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = _nothing  # the protocol holds this exchange: no cycle back

    def _fail(self) -> None:
        """uvicorn's answer to an application that failed before its response started."""
        self._held = None
        self.response_started = True
        self.keep_alive = False
        if not self.transport.is_closing():
            self.transport.write(_500)
        self._complete()

    # -- ASGI ---------------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(_CONTINUE)
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            if self._read_all or (self.more_body and not self.body):
                event = self._event
                if event is None:
                    event = self._event = asyncio.Event()
                await event.wait()
                event.clear()
        if self.disconnected or self.response_complete:
            return _DISCONNECT
        body, self.body = self.body, b""
        more = self.more_body
        if not more:
            self._read_all = True
        return {"type": "http.request", "body": body, "more_body": more}

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if kind == "http.response.start":
            if self.response_started:
                raise RuntimeError(
                    "Expected ASGI message 'http.response.body', but got 'http.response.start'."
                )
            # A new start replaces a held one (a failed application's 500).
            if self.waiting_for_100_continue and self.more_body:
                # A final answer to a client still waiting for 100 Continue: it will not send
                # its body now, and a next request on this connection would be read as that
                # body. Close after the answer, and say so (RFC 9110 §10.1.1).
                self.keep_alive = False
            self.waiting_for_100_continue = False
            if self.head_only or message["status"] in (204, 304):  # no body to wait for
                self._held = None
                head = self._head(message)
                self.response_started = True
                self.transport.write(head)
            else:
                self._held = message
            return
        if kind != "http.response.body":
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent.")
        if self.response_complete:
            raise RuntimeError(
                "Unexpected ASGI message 'http.response.body' sent, after response already "
                "completed."
            )
        held = self._held
        if held is not None:
            self._held = None
            head = self._head(held)  # nothing is written if it raises
        elif not self.response_started:
            raise RuntimeError(
                "Expected ASGI message 'http.response.start', but got 'http.response.body'."
            )
        else:
            head = b""
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.head_only:
            data = b""
        elif self.chunked:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more:
                data += b"0\r\n\r\n"
        else:
            if len(body) > self.expected:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected -= len(body)
            data = body
        if head:
            self.response_started = True
            self.transport.write(head + data)
        elif data:
            self.transport.write(data)
        if not more:
            if self.expected != 0 and not self.head_only:
                raise RuntimeError("Response content shorter than Content-Length")
            self._complete()

    # -- writing ------------------------------------------------------------------------------
    def _head(self, start: Any) -> bytes:
        """A start's status line and header block; sets the body's framing. RuntimeError for
        a head uvicorn would refuse."""
        status = start["status"]
        status_line = STATUS_LINE.get(status)
        if status_line is None:
            raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
        headers = self.default_headers + list(start.get("headers") or ())
        names = b"".join(map(_NAME, headers))
        if len(names.translate(None, _NOT_IN_NAMES)) != len(names):
            raise RuntimeError("Invalid HTTP header name.")
        lowered = names.lower()
        enforced = self.enforced
        if enforced is not None and _restated(lowered, enforced.names):
            headers = _without(headers, enforced.names)
            names = b"".join(map(_NAME, headers))
            lowered = names.lower()
        lines = b"\r\n".join(map(b": ".join, headers))
        # Values are checked in the block itself: its only control bytes may be the line
        # breaks between headers (names hold none, checked above).
        breaks = 2 * len(headers) - 2 if headers else 0
        if len(lines) - len(lines.translate(None, _NOT_IN_VALUES)) != breaks:
            raise RuntimeError("Invalid HTTP header value.")
        length: int | None = None
        chunked = False
        close = False
        if (
            # The gateway's answers: names in lower case, the length last and alone.
            lowered == names
            # find, not ``in``: on Python 3.11 ``in`` first tries the operand as an integer
            # (a formatted TypeError, cleared), twice the cost of the search itself.
            and lowered.find(b"transfer-encoding") < 0
            and lowered.find(b"connection") < 0
        ):
            if headers and headers[-1][0] == _LENGTH and lowered.count(_LENGTH) == 1:
                length = int(headers[-1][1])
            elif _LENGTH in lowered:
                length, chunked, close = self._framing(headers)
        else:
            headers = [(name.lower(), value) for name, value in headers]
            lines = b"\r\n".join(map(b": ".join, headers))
            length, chunked, close = self._framing(headers)
        block = [status_line, lines]
        if headers:
            block.append(b"\r\n")
        if enforced is not None:
            block.append(enforced.block)
        if not self.keep_alive and not close:
            block.append(b"connection: close\r\n")
        if length is None and not chunked and not self.head_only and status not in (204, 304):
            chunked = True
            block.append(b"transfer-encoding: chunked\r\n")
        block.append(b"\r\n")
        self.chunked = chunked
        self.expected = length or 0
        return b"".join(block)

    def _framing(self, headers: Headers) -> tuple[int | None, bool, bool]:
        """(length, chunked, close) from lower-cased headers, as uvicorn reads them."""
        length: int | None = None
        chunked = close = False
        for name, value in headers:
            if name == _LENGTH and length is None and not chunked:
                length = int(value.decode())
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                length, chunked = None, True
            elif name == b"connection" and b"close" in [
                t.strip() for t in value.lower().split(b",")
            ]:
                self.keep_alive = False
                close = True
        return length, chunked, close

    def _complete(self) -> None:
        self.response_complete = True
        self.wake()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()


def _nothing() -> None:
    pass


def _restated(lowered: bytes, names: tuple[bytes, ...]) -> bool:
    """Whether the application's joined names hold an enforced name: a search, not a pass
    over the headers (a false alarm across two names costs only that pass)."""
    for name in names:  # noqa: SIM110 - no generator per answer
        if lowered.find(name) >= 0:
            return True
    return False


def _without(headers: Headers, names: tuple[bytes, ...]) -> Headers:
    """``headers`` less any whose name starts with an enforced one (so
    ``content-security-policy-report-only`` goes with ``content-security-policy``)."""
    return [h for h in headers if not bytes(h[0]).lower().startswith(names)]


class Enforced:
    """Headers an application puts on every answer of an exchange whatever it sends
    (``Exchange.enforced``): checked and rendered once, appended to each head as they are;
    the application's own of the same names are dropped."""

    __slots__ = ("block", "names")

    def __init__(self, headers: Headers) -> None:
        self.names = tuple(bytes(name).lower() for name, _ in headers)
        joined = b"".join(self.names)
        values = b"".join(bytes(value) for _, value in headers)
        if len(joined.translate(None, _NOT_IN_NAMES)) != len(joined) or len(
            values.translate(None, _NOT_IN_VALUES)
        ) != len(values):
            raise ValueError("an enforced header that no answer may carry")
        self.block = b"".join(
            name + b": " + bytes(v) + b"\r\n"
            for name, (_, v) in zip(self.names, headers, strict=True)
        )

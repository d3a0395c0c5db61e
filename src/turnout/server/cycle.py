"""uvicorn's request/response cycle, answering a sized response in one write.

uvicorn writes a response's status line and headers as soon as ``http.response.start``
arrives and the body separately: two system calls and two TCP segments for every
non-streamed answer, which on a VM's loopback is the costliest single step of a proxied
request. It also runs two regular expressions over every header name and value (thirty
searches for an ordinary proxied answer). This cycle holds a start message that announces a
``content-length`` (every answer the gateway builds in one piece) until its body arrives, and
writes both at once, checking the header block with one search for names and one for values.

The block is built with one join over the headers (no per-header calls): names the gateway
sends are lower case already, so a block whose names are not, or that carries a
``connection`` header, is left to uvicorn, like everything else unusual (streams, HEAD, flow
control, access logging, a start with no length, or a body sent in parts), which goes through
uvicorn's own ``send`` unchanged, the held start first.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

_LENGTH = b"content-length"


class GatewayCycle(RequestResponseCycle):
    """Set as the class of uvicorn's cycle right after the protocol makes it (no new state
    beyond the held start, so the swap is safe)."""

    _held: Any = None  # the held ``http.response.start`` message

    async def send(self, message: Any) -> None:
        kind = message["type"]
        held = self._held
        if held is not None:
            self._held = None
            if kind == "http.response.body":
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if not self.disconnected and not self.flow.write_paused:
                    sized = held["headers"][-1][0] == _LENGTH
                    if (
                        (not more and self._write_whole(held, body))
                        if sized
                        else (self._write_first(held, body, more))
                    ):
                        return
                await super().send(held)
                await super().send(message)
                return
            # else a new start replaces the held one (a failed application's 500)
        if (
            kind == "http.response.start"
            and not self.response_started
            and not self.access_log
            and self.scope["method"] != "HEAD"
            and message["status"] not in (204, 304)
        ):
            headers = message.get("headers")
            if headers:  # sized (content-length last) or a stream: held for its first body
                self._held = message
                return
        await super().send(message)

    def _head(self, start: Any, extra: bytes) -> bytes | None:
        """The status line and header block of a held start, checked with one search for
        names and one for values; None (nothing written) when anything is unusual."""
        headers = self.default_headers + list(start["headers"])
        names = b"".join([name for name, _ in headers])
        values = b"\t".join([value for _, value in headers])
        if HEADER_RE.search(names) or HEADER_VALUE_RE.search(values):
            return None  # uvicorn's path raises, naming the header
        status_line = STATUS_LINE.get(start["status"])
        if status_line is None:
            return None
        lowered = names.lower()
        if lowered != names or b"connection" in lowered or b"transfer-encoding" in lowered:
            return None  # names to lower, a framing header to honour: uvicorn's path
        lines = b"\r\n".join([name + b": " + value for name, value in headers])
        close = b"" if self.keep_alive else b"\r\nconnection: close"
        return b"".join((status_line, lines, close, extra, b"\r\n\r\n"))

    def _write_first(self, start: Any, body: bytes, more: bool) -> bool:
        """A stream's head and its first chunk in one write (chunked framing, as uvicorn
        would frame it); uvicorn's own ``send`` frames the chunks after it."""
        if any(name == _LENGTH for name, _ in start["headers"]):
            return False
        head = self._head(start, b"\r\ntransfer-encoding: chunked")
        if head is None:
            return False
        frame = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
        if not more:
            frame += b"0\r\n\r\n"
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = True
        self.expected_content_length = 0
        self.transport.write(head + frame)
        if not more:
            self._complete()
        return True

    def _write_whole(self, start: Any, body: bytes) -> bool:
        """Write the held head and ``body`` at once; False (nothing written) when anything
        is unusual, for uvicorn's path to handle and report."""
        length = start["headers"][-1][1]
        if not length.isdigit() or int(length) != len(body):
            return False
        head = self._head(start, b"")
        if head is None:
            return False
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = False
        self.expected_content_length = 0
        self.transport.write(head + body)
        self._complete()
        return True

    def _complete(self) -> None:
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()

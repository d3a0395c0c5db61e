"""What the three stream decoders share: SSE framing in, IR events out, and one rule — a
stream that ends without its protocol's own end marker is an error, reported once, never a
quiet success."""

from __future__ import annotations

from typing import ClassVar

from turnout.ir import ErrorKind, StreamError, StreamEvent
from turnout.protocols.sse import SSEParser


class SSEDecoder:
    """Subclasses parse one ``data:`` payload in :meth:`_data` and say in :meth:`_complete`
    whether the end marker has been seen."""

    incomplete_message: ClassVar[str] = "upstream stream ended before its terminator"

    def __init__(self) -> None:
        self._sse = SSEParser(data_only=True)
        self._failed = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for data in self._sse.feed_data(chunk):
            self._data(data, out)
        return out

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for data in self._sse.finish_data():
            self._data(data, out)
        if not (self._complete() or self._failed):
            self._failed = True
            out.append(StreamError(502, ErrorKind.SERVER.value, self.incomplete_message))
        return out

    def _complete(self) -> bool:
        raise NotImplementedError

    def _data(self, data: bytes, out: list[StreamEvent]) -> None:
        raise NotImplementedError

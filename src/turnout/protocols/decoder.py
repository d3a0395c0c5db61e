"""What the three stream decoders share: SSE framing in, IR events out, and one rule — a
stream that ends without its protocol's own end marker is an error, reported once, never a
quiet success — and a bound on what a decoder keeps of one stream."""

from __future__ import annotations

from typing import ClassVar

from turnout.ir import ErrorKind, StreamError, StreamEvent
from turnout.protocols.sse import SSEParser

# Content blocks, tool calls or output items one stream may open. A decoder keeps a table
# entry for each (keyed by the index the upstream chose): without a bound, an upstream opening
# blocks without end grew the gateway by its whole stream. Real answers hold a few dozen.
MAX_PARTS = 4096


class SSEDecoder:
    """Subclasses parse one ``data:`` payload in :meth:`_data` and say in :meth:`_complete`
    whether the end marker has been seen."""

    incomplete_message: ClassVar[str] = "upstream stream ended before its terminator"

    def __init__(self) -> None:
        self._sse = SSEParser(data_only=True)
        self._failed = False
        self._parts = 0

    def _opened(self, out: list[StreamEvent]) -> bool:
        """Counts one more part the decoder's tables will keep: False past :data:`MAX_PARTS`,
        the stream then failed as the upstream's fault (502)."""
        self._parts += 1
        if self._parts <= MAX_PARTS:
            return True
        if not self._failed:
            self._failed = True
            message = f"upstream stream opened more than {MAX_PARTS} content blocks or tool calls"
            out.append(StreamError(502, ErrorKind.SERVER.value, message))
        return False

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

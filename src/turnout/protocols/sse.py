"""Incremental Server-Sent Events parsing and framing.

Network reads split frames anywhere (inside a line, between ``\\r`` and ``\\n``), so the parser
keeps the unfinished tail and only dispatches an event at its blank line. Payloads stay
``bytes``: ``orjson.loads`` takes them directly, so nothing is decoded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# One event (or one line) larger than this is not an LLM stream event but an upstream flooding
# the parser, which would otherwise hold it all: a ValueError, which translation turns into
# the upstream's failure (502, or the client's error frame mid-stream).
MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: bytes


class SSEParser:
    """Feed arbitrary byte chunks, get complete events back.

    Handles ``\\n`` and ``\\r\\n`` line ends, ``data:`` with or without its space, multi-line
    data (joined with ``\\n``), ``event:`` names, comments and ``id:``/``retry:`` (ignored).

    ``data_only``: :meth:`feed_data` and :meth:`finish_data` give each event's data alone, for
    readers that never look at the event's name (the protocols' stream decoders: the data
    says its own type), without an event object or a decoded name per event.
    """

    __slots__ = ("_data", "_data_only", "_data_size", "_event", "_pending", "_pending_size")

    def __init__(self, *, data_only: bool = False) -> None:
        self._pending: list[bytes] = []
        self._data: list[bytes] = []
        self._event: bytes | None = None
        self._data_only = data_only
        self._pending_size = 0  # bytes of the unfinished line
        self._data_size = 0  # bytes of the event's data lines so far

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        assert not self._data_only
        return self._feed(chunk)

    def finish(self) -> list[SSEEvent]:
        """Flush at end of input: a last event without its blank line is still delivered."""
        assert not self._data_only
        return self._finish()

    def feed_data(self, chunk: bytes) -> list[bytes]:
        assert self._data_only
        return self._feed(chunk)

    def finish_data(self) -> list[bytes]:
        assert self._data_only
        return self._finish()

    def _feed(self, chunk: bytes) -> list[Any]:
        if chunk.find(b"\n") < 0:  # find, not ``in``: see _whole_events
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                self._check()
            return []
        if self._pending:
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
        out: list[Any] = []
        if not self._data and self._event is None and chunk.find(b"\r") < 0:
            chunk = self._whole_events(chunk, out)
            if not chunk:
                return out
        lines = chunk.split(b"\n")
        tail = lines.pop()
        for line in lines:
            self._line(line, out)
        if tail:
            self._pending.append(tail)
            self._pending_size = len(tail)
            self._check()
        return out

    def _whole_events(self, chunk: bytes, out: list[Any]) -> bytes:
        """The events that end in ``chunk``, when no event is half read; returns what follows
        the last one. An event of one ``data:`` line, after at most one ``event:`` line (what
        every LLM provider sends), is taken whole; any other is read line by line. Per event
        that is one split instead of three line parses (translated streams: every event)."""
        blocks = chunk.split(b"\n\n")
        rest = blocks.pop()
        data_only = self._data_only
        for block in blocks:
            if block.startswith(b"data: "):
                # find, not ``in``: on Python 3.11 ``in`` first tries its operand as an
                # integer (a formatted TypeError, cleared), twice the cost of the search.
                if block.find(b"\n") < 0:
                    out.append(block[6:] if data_only else SSEEvent(None, block[6:]))
                    continue
            elif block.startswith(b"event: "):
                nl = block.find(b"\n")
                if block.startswith(b"data: ", nl + 1) and block.find(b"\n", nl + 1) < 0:
                    if data_only:
                        out.append(block[nl + 7 :])
                    else:
                        name = block[7:nl].decode("utf-8", "replace")
                        out.append(SSEEvent(name, block[nl + 7 :]))
                    continue
            for line in block.split(b"\n"):
                self._line(line, out)
            self._line(b"", out)
        return rest

    def _check(self) -> None:
        if self._pending_size + self._data_size > MAX_EVENT_BYTES:
            raise ValueError(f"an SSE event longer than {MAX_EVENT_BYTES} bytes")

    def _finish(self) -> list[Any]:
        out: list[Any] = []
        if self._pending:
            tail = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._line(tail, out)
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[Any]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._data:
                data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
                if self._data_only:
                    out.append(data)
                else:
                    name = self._event
                    out.append(
                        SSEEvent(None if name is None else name.decode("utf-8", "replace"), data)
                    )
                self._data = []
            self._event = None
            self._data_size = 0
            return
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
            self._data_size += len(value)
            if self._data_size > MAX_EVENT_BYTES:
                self._check()
        elif name == b"event":
            self._event = value


def frame(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` must not contain newlines (orjson output never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"

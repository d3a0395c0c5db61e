"""Whether a Responses stream relayed untouched (to an OpenAI upstream) really ended.

Chat Completions ends with ``[DONE]`` and Anthropic with ``message_stop``: fixed bytes the API
layer finds in a stream's tail (``stream_terminator``). A Responses stream has none: its last
event (``response.completed``, ``response.failed``, ``response.incomplete``, or ``error``)
carries the whole response. :class:`Ended` watches the relayed chunks for one of those event
types, and for the last ``sequence_number``; when the upstream closes the stream without one,
it raises :class:`~turnout.errors.StreamIncomplete` like a missing terminator does, so the
same path of the API layer (``api/io.send_stream``) writes the error event, numbered after the
last event the client got, aborts the connection and logs the call as failed. A translated
stream needs none of this: its decoder already refuses an upstream stream that stops early.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from turnout.errors import StreamIncomplete

# Compact or spaced JSON; an unescaped quote cannot occur inside a string, so only a field
# of an event itself matches.
_END = re.compile(rb'"type"\s*:\s*"(?:response\.(?:completed|failed|incomplete)|error)"')
_SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d{1,12})')
_CARRY = 64  # bytes kept from one chunk for a match split across two


class Ended:
    """The chunks of a passthrough Responses stream, checked for a terminal event."""

    __slots__ = ("_chunks", "_ended", "_last", "_tail")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._ended = False
        self._last: int | None = None
        self._tail = b""

    def __aiter__(self) -> Ended:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            if self._ended:
                raise
            err = StreamIncomplete("the upstream stream ended before it was complete")
            err.sequence_number = self._last + 1 if self._last is not None else None
            raise err from None
        if not self._ended:
            self._watch(chunk)
        return chunk

    def _watch(self, chunk: bytes) -> None:
        seen = self._tail + chunk
        if _END.search(seen) is not None:
            self._ended = True
            return
        numbers = _SEQUENCE.findall(seen)
        if numbers:
            self._last = int(numbers[-1])
        self._tail = seen[-_CARRY:]

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

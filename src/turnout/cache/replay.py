"""A cache hit as the client's reply: the stored form when it matches, a conversion when not.

The common case costs nothing: the same form is replayed as stored (the JSON body, or the
stream's recorded chunks one by one, so the client sees the original split). Only a hit in the
other form, or in another variant of a stream (OpenAI usage chunk, Gemini without ``alt=sse``),
goes through :mod:`turnout.cache.convert`.
"""

from __future__ import annotations

import time

from turnout.cache.convert import (
    Unconvertible,
    Variant,
    body_to_stream,
    restream,
    stream_to_body,
)
from turnout.cache.entry import Entry
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call, Headers, Reply

_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream")
HEADER = b"x-turnout-cache"
KEY_HEADER = b"x-turnout-cache-key"


class Chunks:
    """An already-complete stream, yielded chunk by chunk (never awaits anything)."""

    __slots__ = ("_chunks", "_next")

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self._next = 0

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        i = self._next
        if i >= len(self._chunks):
            raise StopAsyncIteration
        self._next = i + 1
        return self._chunks[i]

    async def aclose(self) -> None:
        self._next = len(self._chunks)


def variant(call: Call) -> Variant:
    """The stream form the client asked for (its protocol's descriptor knows)."""
    return PROTOCOLS[call.protocol].variant(call)


def reply_for(entry: Entry, call: Call, digest: str | None) -> Reply:
    """The reply serving ``entry`` to ``call``; raises :class:`Unconvertible` when it can't.
    ``digest`` is shown in ``x-turnout-cache-key`` when given (admin callers only)."""
    headers: Headers = [
        (HEADER, b"hit"),
        (b"age", str(max(0, int(time.time() - entry.stored_at))).encode()),
    ]
    if digest is not None:
        headers.append((KEY_HEADER, digest.encode()))
    if not call.stream:
        headers.append(_JSON)
        body = entry.body
        if entry.stream:
            body = stream_to_body(entry.protocol, entry.frames, call.model)
        return Reply(200, headers, body=body)
    v = variant(call)
    headers.append(_SSE if v.sse else _JSON)
    if not entry.stream:
        chunks = body_to_stream(v, entry.body)
    elif _same_variant(entry, v):
        chunks = list(entry.frames)
    else:
        chunks = restream(v, entry.frames, entry.usage)
    return Reply(200, headers, chunks=Chunks(chunks))


def _same_variant(entry: Entry, v: Variant) -> bool:
    """Streams are stored as SSE, with or without the usage chunk they were relayed with."""
    return v.sse and entry.include_usage == v.include_usage


__all__ = ["HEADER", "KEY_HEADER", "Chunks", "Unconvertible", "reply_for", "variant"]

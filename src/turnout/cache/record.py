"""Recording answers on their way to the client, and deciding afterwards whether to keep them.

:class:`Recorder` wraps a stream's chunks: it copies each chunk as it is relayed (nothing is
delayed or held back from the client) and, only if the stream ran to its end, hands the copy
over to be stored. A client that went away, an upstream error or an answer grown past
``max_item_bytes`` leaves nothing behind.

:func:`build_entry` runs later, in the store worker: it decodes the whole recording with the
protocol's stream decoder and refuses anything that is not a complete, error-free answer (a
stream cut before its terminator, an in-band error frame), so a truncated answer is never
replayed as if it were whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson

from turnout.cache.convert import decode_stream
from turnout.cache.entry import Entry
from turnout.cache.keys import FAMILIES, CacheKey
from turnout.ir import Finish, StreamError, UsageUpdate
from turnout.ir import Usage as IRUsage
from turnout.protocols.descriptor import GENERATE
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call, Usage
from turnout.usage.base import from_ir

# Why an answer was not stored (counted in the stats).
ERROR, TRUNCATED, TOO_LARGE = "error", "truncated", "too_large"


@dataclass(slots=True)
class Pending:
    """An answer waiting for the store worker."""

    key: CacheKey
    ttl: float
    call: Call
    include_usage: bool
    sse: bool
    body: bytes | None = None
    frames: list[bytes] | None = None


class Recorder:
    """Relays a stream unchanged and keeps a copy of its chunks for the cache.

    ``done`` is called once the stream has ended by itself: with the chunks, or with None
    when they outgrew ``limit`` (the copy was dropped as soon as it did).
    """

    __slots__ = ("_chunks", "_done", "_limit", "_parts", "_size")

    def __init__(
        self, chunks: AsyncIterator[bytes], limit: int, done: Callable[[list[bytes] | None], None]
    ) -> None:
        self._chunks = chunks
        self._limit = limit
        self._done: Callable[[list[bytes] | None], None] | None = done
        self._parts: list[bytes] | None = []
        self._size = 0

    def __aiter__(self) -> Recorder:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            done, parts = self._done, self._parts
            self._done = self._parts = None
            if done is not None:
                done(parts)
            raise
        except BaseException:
            self._done = self._parts = None  # failed or cancelled: nothing to store
            raise
        parts = self._parts
        if parts is not None:
            self._size += len(chunk)
            if self._size > self._limit:
                self._parts = None
                parts.clear()
            else:
                parts.append(chunk)
        return chunk

    async def aclose(self) -> None:
        self._done = self._parts = None
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


def build_entry(p: Pending, now: float, max_item_bytes: int) -> Entry | str:
    """The entry to store, or the reason not to store it.

    An answer the gateway wrote itself from the IR (``call.encoded``: translated, complete,
    error-free, its usage known) is stored without decoding it again; only relayed upstream
    bytes are decoded and checked here."""
    call = p.call
    if p.body is not None:
        if len(p.body) > max_item_bytes:
            return TOO_LARGE
        return _from_body(p, p.body, now)
    assert p.frames is not None
    frames = p.frames
    wire = PROTOCOLS[call.protocol]
    if not p.sse and wire.as_sse is not None:  # stored as SSE, the form decoders read
        converted = wire.as_sse(frames)
        if converted is None:
            return TRUNCATED
        frames = converted
    if sum(len(f) for f in frames) > max_item_bytes:
        return TOO_LARGE
    if call.encoded:
        return _stream_entry(p, frames, now, call.usage)
    if not _terminated(wire.stream_terminator, frames):
        return TRUNCATED
    usage: IRUsage | None = None
    finished = False
    for event in decode_stream(call.protocol, frames):
        if isinstance(event, StreamError):
            return TRUNCATED
        if isinstance(event, UsageUpdate):
            usage = event.usage
        elif isinstance(event, Finish):
            finished = True
    if not finished:
        return TRUNCATED
    return _stream_entry(p, frames, now, from_ir(usage) or call.usage)


def _stream_entry(p: Pending, frames: list[bytes], now: float, usage: Usage | None) -> Entry:
    call = p.call
    return Entry(
        protocol=call.protocol,
        model=call.model,
        stream=True,
        frames=tuple(frames),
        stored_at=now,
        usage=usage,
        include_usage=p.include_usage,
        deployment=call.deployment,
    )


def _terminated(marker: bytes | None, frames: list[bytes]) -> bool:
    """The protocol's end marker is there (the API layer checks the same); a protocol without
    one (Gemini) is checked by its decoder instead (a finishReason)."""
    return marker is None or marker in b"".join(frames[-3:])[-64:]


def _from_body(p: Pending, body: bytes, now: float) -> Entry | str:
    call = p.call
    if call.encoded:  # written from the IR by translation: no error, usage known
        return _body_entry(p, body, now, call.usage)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ERROR
    if not isinstance(payload, dict) or payload.get("error") or payload.get("type") == "error":
        return ERROR
    usage = call.usage
    if usage is None and FAMILIES.get((call.protocol, call.operation)) == GENERATE:
        usage = from_ir(PROTOCOLS[call.protocol].usage_from_response(payload))
    return _body_entry(p, body, now, usage)


def _body_entry(p: Pending, body: bytes, now: float, usage: Usage | None) -> Entry:
    call = p.call
    return Entry(
        protocol=call.protocol,
        model=call.model,
        stream=False,
        body=body,
        stored_at=now,
        usage=usage,
        deployment=call.deployment,
    )


__all__ = ["ERROR", "TOO_LARGE", "TRUNCATED", "Pending", "Recorder", "build_entry"]

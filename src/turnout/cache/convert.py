"""Serve one stored answer in the form a hit asks for, through the protocol's codecs (its
descriptor in :mod:`turnout.protocols.registry`).

- JSON -> stream: the body becomes IR (``response.to_ir``), the IR becomes stream events, and
  the protocol's own ``StreamEncoder`` writes real SSE, one chunk per event.
- stream -> JSON: the recorded chunks are decoded (``StreamDecoder``), the events accumulated
  into an IR response, and ``response.from_ir`` writes the body.
- stream -> stream in another variant (an OpenAI client wanting, or not, the usage chunk; a
  Gemini client without ``alt=sse``): decoded and re-encoded chunk by chunk, so the replay
  keeps the original split.

Everything here is pure; a failure raises :class:`Unconvertible` and the hit becomes a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from turnout.ir import (
    BlockStop,
    Finish,
    FinishReason,
    IRResponse,
    Part,
    RedactedThinking,
    StreamError,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ThinkingSignature,
    ToolArgsDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    TranslationError,
    UsageUpdate,
)
from turnout.protocols.descriptor import Decoder, Encoder, Variant
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Usage
from turnout.usage.base import to_ir

JSONObj = dict[str, Any]


class Unconvertible(ValueError):
    """The stored answer cannot be written in the requested form."""


def decoder(protocol: str) -> Decoder:
    return PROTOCOLS[protocol].decoder()


def encoder(v: Variant) -> Encoder:
    return PROTOCOLS[v.protocol].encoder(v)


class Accumulator:
    """Stream events -> one IR response (the inverse of :func:`response_events`)."""

    def __init__(self, protocol: str) -> None:
        self.resp = IRResponse(source=protocol)
        self._open: TextPart | ThinkingPart | None = None
        self._tools: dict[int, tuple[ToolCallPart, list[str]]] = {}

    def add(self, event: StreamEvent) -> None:
        resp = self.resp
        if isinstance(event, TextDelta):
            if not isinstance(self._open, TextPart):
                self._open = TextPart("")
                resp.content.append(self._open)
            self._open.text += event.text
        elif isinstance(event, ThinkingDelta):
            if not isinstance(self._open, ThinkingPart):
                self._open = ThinkingPart()
                resp.content.append(self._open)
            self._open.text += event.text
        elif isinstance(event, ThinkingSignature):
            part = self._open if isinstance(self._open, ThinkingPart) else None
            if part is None:
                part = ThinkingPart()
                resp.content.append(part)
            part.signature, part.source = event.signature, event.source
            self._open = None
        elif isinstance(event, RedactedThinking):
            resp.content.append(ThinkingPart(redacted=event.data, source="anthropic"))
            self._open = None
        elif isinstance(event, ToolCallStart):
            call = ToolCallPart(event.id, event.name)
            self._tools[event.index] = (call, [])
            resp.content.append(call)
            self._open = None
        elif isinstance(event, ToolArgsDelta):
            if event.index in self._tools:
                self._tools[event.index][1].append(event.partial_json)
        elif isinstance(event, ToolCallEnd):
            self._end_tool(event.index)
        elif isinstance(event, BlockStop):
            self._open = None
        elif isinstance(event, Finish):
            resp.finish_reason, resp.raw_finish_reason = event.reason, event.raw
            resp.stop_sequence = event.stop_sequence
        elif isinstance(event, UsageUpdate):
            resp.usage = event.usage
        elif isinstance(event, StreamStart):
            resp.id, resp.model = event.id, event.model
        elif isinstance(event, StreamError):
            raise Unconvertible(f"the stored stream ends with an error: {event.message}")

    def _end_tool(self, index: int) -> None:
        entry = self._tools.pop(index, None)
        if entry is None:
            return
        call, pieces = entry
        raw = "".join(pieces)
        try:
            args = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise Unconvertible(f"tool call {call.name!r} has invalid arguments") from None
        if not isinstance(args, dict):
            raise Unconvertible(f"tool call {call.name!r} arguments are not an object")
        call.arguments, call.raw_arguments = args, raw or "{}"

    def result(self) -> IRResponse:
        for index in list(self._tools):
            self._end_tool(index)
        return self.resp


def response_events(resp: IRResponse) -> list[StreamEvent]:
    """One IR response as the events a stream of it would have carried."""
    events: list[StreamEvent] = [StreamStart(resp.id, resp.model)]
    tools = 0
    for part in resp.content:
        events.extend(_part_events(part, tools))
        if isinstance(part, ToolCallPart):
            tools += 1
    if resp.usage is not None:
        events.append(UsageUpdate(resp.usage))
    reason = resp.finish_reason or FinishReason.STOP
    events.append(Finish(reason, resp.raw_finish_reason, resp.stop_sequence))
    return events


def _part_events(part: Part, tools: int) -> Iterable[StreamEvent]:
    if isinstance(part, TextPart):
        return (TextDelta(part.text), BlockStop())
    if isinstance(part, ThinkingPart):
        if part.redacted is not None:
            return (RedactedThinking(part.redacted),)
        out: list[StreamEvent] = [ThinkingDelta(part.text)] if part.text else []
        if part.signature is not None and part.source is not None:
            out.append(ThinkingSignature(part.signature, part.source))
        else:
            out.append(BlockStop())
        return out
    if isinstance(part, ToolCallPart):
        args = part.raw_arguments
        if args is None:
            args = orjson.dumps(part.arguments).decode()
        return (
            ToolCallStart(tools, part.id, part.name),
            ToolArgsDelta(tools, args),
            ToolCallEnd(tools),
        )
    raise Unconvertible(f"a {type(part).__name__} cannot be replayed as a stream")


def decode_stream(protocol: str, frames: Iterable[bytes]) -> list[StreamEvent]:
    """Every event of a recorded stream (a truncated one ends with a StreamError)."""
    dec = decoder(protocol)
    events: list[StreamEvent] = []
    for frame in frames:
        events.extend(dec.feed(frame))
    events.extend(dec.finish())
    return events


def stream_to_body(protocol: str, frames: Iterable[bytes], model: str) -> bytes:
    acc = Accumulator(protocol)
    try:
        for event in decode_stream(protocol, frames):
            acc.add(event)
        return orjson.dumps(PROTOCOLS[protocol].response_from_ir(acc.result(), model))
    except (TranslationError, TypeError, KeyError, AttributeError) as exc:
        raise Unconvertible(str(exc)) from None


def body_to_stream(variant: Variant, body: bytes) -> list[bytes]:
    try:
        payload = orjson.loads(body)
        if not isinstance(payload, dict):
            raise Unconvertible("the stored body is not a JSON object")
        resp = PROTOCOLS[variant.protocol].response_to_ir(payload)
        enc = encoder(variant)
        out: list[bytes] = []
        for event in response_events(resp):
            chunk = b"".join(enc.feed(event))
            if chunk:
                out.append(chunk)
        out.extend(enc.finish())
    except (TranslationError, TypeError, KeyError, AttributeError, orjson.JSONDecodeError) as exc:
        raise Unconvertible(str(exc)) from None
    return _checked(out)


def restream(variant: Variant, frames: Iterable[bytes], usage: Usage | None) -> list[bytes]:
    """Re-encode a recorded stream for another variant of its protocol, chunk for chunk.

    When the recording carried no usage, the stored usage is added before the end so a client
    asking for a usage chunk still gets the real counts.
    """
    dec = decoder(variant.protocol)
    enc = encoder(variant)
    out: list[bytes] = []
    seen_usage = False

    def encode(events: list[StreamEvent]) -> bytes:
        nonlocal seen_usage
        parts: list[bytes] = []
        for event in events:
            if isinstance(event, StreamError):
                raise Unconvertible(f"the stored stream ends with an error: {event.message}")
            seen_usage = seen_usage or isinstance(event, UsageUpdate)
            parts.extend(enc.feed(event))
        return b"".join(parts)

    try:
        for frame in frames:
            chunk = encode(dec.feed(frame))
            if chunk:
                out.append(chunk)
        tail = [encode(dec.finish())]
        known = to_ir(usage)
        if not seen_usage and known is not None:
            tail.extend(enc.feed(UsageUpdate(known)))
        tail.extend(enc.finish())
        if any(tail):
            out.append(b"".join(tail))
    except (TranslationError, TypeError, KeyError, AttributeError) as exc:
        raise Unconvertible(str(exc)) from None
    return _checked(out)


def _checked(chunks: list[bytes]) -> list[bytes]:
    if not chunks:
        raise Unconvertible("nothing to replay")
    return chunks


__all__ = [
    "Accumulator",
    "Unconvertible",
    "Variant",
    "body_to_stream",
    "decode_stream",
    "response_events",
    "restream",
    "stream_to_body",
]

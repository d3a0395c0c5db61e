"""What every protocol's usage module provides, and the conversion to the gateway's counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from turnout.ir.response import MAX_TOKENS
from turnout.ir.response import Usage as IRUsage
from turnout.types import Call, Usage
from turnout.usage.scan import KeyTail


class StreamObserver(Protocol):
    """Watches a relayed stream for its usage, chunk by chunk.

    ``feed`` runs on the request path for every chunk and must stay a few byte searches; it
    returns the bytes to send on (usually the chunk itself). ``flush`` returns anything held
    back when the stream ends. ``usage`` parses what was remembered, off the request path.
    """

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def usage(self) -> Usage | None: ...


def from_ir(usage: IRUsage | None) -> Usage | None:
    """The IR's usage as the gateway counts it (the one converter; :func:`to_ir` reverses it).

    Two types on purpose: the IR's carries what protocols report (cache writes, a total),
    the call's only what the request log, prices and limits use."""
    if usage is None:
        return None
    return Usage(
        usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens
    )


# Bytes of a relayed stream per token it is assumed to have carried when its own count never
# came. Framing is most of a stream: an OpenAI chunk spends ~150 bytes on one token, an
# Anthropic delta ~110 on a few, a Gemini chunk ~300 on a few dozen (4 bytes of text each), so
# 32 is within a few times of every protocol's real rate, not a free pass for any of them.
STREAM_BYTES_PER_TOKEN = 32


# Operations whose streams are audio or base64 images, not text: a megabyte of a partial image
# or of speech is not 32 000 tokens, so one cut short counts as :func:`unanswered` (its prompt)
# unless its usage came.
NOT_TEXT = frozenset({"images", "image_edits", "speech"})


def cut_short(call: Call) -> bool:
    """A stream that reached its client in part and ended before its end: the client left
    (or stopped reading), or the stream failed after its first bytes. Whatever usage it
    reported is what was counted up to then (Anthropic's first event says one output token),
    and its final count, sent last, never came."""
    if not call.stream or call.relayed == 0 or call.relayed_all or call.cache == "hit":
        return False  # not a stream, nothing relayed, all of it relayed, or a replay
    if call.operation in NOT_TEXT:
        return False  # its bytes are no measure of tokens: unanswered() counts its prompt
    return call.status == 499 or (call.error is not None and call.error.startswith("stream:"))


# How a call ends when an attempt was sent and no answer came back: the upstream timed out
# (its read timeout, the request's deadline), its connection broke, or what it sent could
# not be read. The gateway cannot tell a request the upstream never read (a connection
# refused) from one it did, so every one of them counts its prompt.
_NO_ANSWER = frozenset(
    {
        "UpstreamTimeout",
        "DeadlineExceeded",
        "TimeoutGaveUp",
        "UpstreamUnavailable",
        "UpstreamInvalid",
        "UpstreamGaveUp",
    }
)


def unanswered(call: Call) -> bool:
    """A call sent upstream that ended without an answer (when it has no usage either, the
    gateway counts :func:`billed`): the provider may have
    billed its prompt (and what it generated) all the same. The upstream gave no answer
    (timed out, dropped the connection), the client left before one (499), or a stream
    failed before its first byte reached the client (one that failed later is
    :func:`cut_short`). An upstream that answered with an error status ran nothing."""
    if call.attempts == 0 or call.cache == "hit" or call.bytes_in is not None:
        return False  # never sent, a replay, or no model call (A2A, MCP: no tokens)
    error = call.error
    if call.status == 499:
        return True
    return error is not None and (error in _NO_ANSWER or error.startswith("stream:"))


def billed(call: Call) -> Usage:
    """What a call :func:`unanswered` counts: its prompt (the request's bytes over four, the
    estimate's rule), no output."""
    return Usage(len(call.body) // 4, 0)


def floor(call: Call, usage: Usage | None) -> Usage:
    """The usage of a stream cut short: no less than what it reported, nor than its relayed
    bytes over :data:`STREAM_BYTES_PER_TOKEN` for the output, nor than the request's bytes
    over four for the input when it reported none (the estimate's rule, budgets/estimate.py).

    A client that leaves right after the last text, before the usage, used to be counted for
    nothing it received: no usage at all (OpenAI, usage comes last) or one output token
    (Anthropic's ``message_start``). The bytes count at most :data:`MAX_TOKENS`, like any
    count (ten minutes of a fast stream are past the request log's 32-bit columns)."""
    out = min(call.relayed // STREAM_BYTES_PER_TOKEN, MAX_TOKENS)
    if usage is None:
        return Usage(len(call.body) // 4, out)
    return Usage(
        usage.input_tokens or len(call.body) // 4,
        max(usage.output_tokens, out),
        usage.cached_tokens,
        usage.reasoning_tokens,
    )


def to_ir(usage: Usage | None) -> IRUsage | None:
    if usage is None:
        return None
    return IRUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


class Passthrough:
    """For streams whose protocol carries no usage we can read."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def flush(self) -> bytes:
        return b""

    def usage(self) -> Usage | None:
        return None


class LastUsage:
    """For protocols whose stream repeats or ends with its usage object under one key: the
    last occurrence is the stream's usage, read after the stream (``parse`` turns it into the
    gateway's counts)."""

    __slots__ = ("_parse", "_tail")

    def __init__(self, key: bytes, parse: Callable[[dict[str, object] | None], Usage | None]):
        self._tail = KeyTail(key)
        self._parse = parse

    def feed(self, chunk: bytes) -> bytes:
        self._tail.feed(chunk)
        return chunk

    def flush(self) -> bytes:
        return b""

    def usage(self) -> Usage | None:
        return self._parse(self._tail.last())

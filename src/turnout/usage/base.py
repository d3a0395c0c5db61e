"""What every protocol's usage module provides, and the conversion to the gateway's counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from turnout.ir.response import Usage as IRUsage
from turnout.types import Usage
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

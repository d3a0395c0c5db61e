"""Anthropic usage: ``usage`` in a message body; in a stream, ``message_start`` carries the
input side and ``message_delta`` the (cumulative) output side."""

from __future__ import annotations

from typing import Any

from turnout.protocols.anthropic.response import usage_to_ir
from turnout.types import Usage
from turnout.usage.base import from_ir
from turnout.usage.scan import KeyTail, last_object

KEY = b'"usage"'


def parse(obj: dict[str, Any] | None) -> Usage | None:
    return from_ir(usage_to_ir(obj)) if obj else None


def from_body(body: bytes) -> Usage | None:
    return parse(last_object(body, KEY))


class AnthropicStream:
    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = KeyTail(KEY, track_first=True)

    def feed(self, chunk: bytes) -> bytes:
        self._tail.feed(chunk)
        return chunk

    def flush(self) -> bytes:
        return b""

    def usage(self) -> Usage | None:
        start, last = self._tail.first(), self._tail.last()
        if start is None:
            return None
        merged = usage_to_ir(start)
        if last is not None:
            merged = usage_to_ir(last, merged)
        return from_ir(merged)

"""Gemini usage: ``usageMetadata``, in a body and on the last chunk of a stream (SSE or the
JSON-array form alike: only the bytes after the key are read)."""

from __future__ import annotations

from typing import Any

from turnout.protocols.gemini.response import usage_to_ir
from turnout.types import Usage
from turnout.usage.base import LastUsage, from_ir
from turnout.usage.scan import last_object

KEY = b'"usageMetadata"'


def parse(obj: dict[str, Any] | None) -> Usage | None:
    return from_ir(usage_to_ir(obj)) if obj else None


def from_body(body: bytes) -> Usage | None:
    return parse(last_object(body, KEY))


class GeminiStream(LastUsage):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(KEY, parse)

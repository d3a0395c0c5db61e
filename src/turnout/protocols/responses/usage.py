"""Responses API usage: ``usage`` in a response body, and in a stream the ``response``
object of its last event (``response.completed``); the earlier lifecycle events carry
``"usage": null``, which the scan skips."""

from __future__ import annotations

from typing import Any

from turnout.protocols.responses.response import usage_to_ir
from turnout.types import Usage
from turnout.usage.base import LastUsage, from_ir
from turnout.usage.scan import last_object

KEY = b'"usage"'


def parse(obj: dict[str, Any] | None) -> Usage | None:
    return from_ir(usage_to_ir(obj)) if obj else None


def from_body(body: bytes) -> Usage | None:
    return parse(last_object(body, KEY))


class ResponsesStream(LastUsage):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(KEY, parse)

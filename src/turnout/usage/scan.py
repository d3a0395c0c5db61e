"""Find a provider's usage object in raw bytes without parsing everything around it.

Same-protocol replies are forwarded as bytes; parsing a whole 30 kB completion to read five
integers would cost more than forwarding it. The usage object of every supported protocol is a
small JSON object under a known key, placed after the content, so it is found from the end of
the body and only that slice is parsed. Small bodies are parsed whole: below a few kilobytes
``orjson.loads`` is faster than the scan (docs/observability.md has the measurements).
"""

from __future__ import annotations

from typing import Any

import orjson

WHOLE_BELOW = 4096
# A usage object is small: anything longer after the key is not the object we look for.
MAX_OBJECT = 2048


def object_after(data: bytes, start: int) -> dict[str, Any] | None:
    """The JSON object that is the value of the key ending at ``start`` (``"usage"`` ends
    there), or None when the bytes after it are not a complete object.

    Braces inside strings would fool the count; usage objects hold only numbers, short enum
    strings and nested objects, and anything else fails to parse and is ignored.
    """
    i = start
    end = min(len(data), start + MAX_OBJECT)
    while i < end and data[i] in b" \t\r\n:":
        i += 1
    if i >= end or data[i] != 0x7B:  # "{"
        return None
    close = i
    opened, closed = 1, 0  # braces so far: the object's own, and none closed
    while True:
        after = close + 1
        close = data.find(b"}", after, end)
        if close == -1:
            return None
        opened += data.count(b"{", after, close)
        closed += 1
        if opened == closed:
            break
    try:
        value = orjson.loads(data[i : close + 1])
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def last_object(body: bytes, key: bytes) -> dict[str, Any] | None:
    """The value of the last ``key`` (quoted, e.g. ``b'"usage"'``) in a JSON body."""
    if len(body) < WHOLE_BELOW:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        value = data.get(key[1:-1].decode()) if isinstance(data, dict) else None
        return value if isinstance(value, dict) else None
    at = body.rfind(key)
    if at == -1:
        return None
    return object_after(body, at + len(key))


class KeyTail:
    """Remembers the bytes following the first and the last occurrence of a key in a stream.

    A stream arrives in chunks cut anywhere, so the key itself may straddle two chunks: the
    last ``len(key) - 1`` bytes of each chunk are kept to look across the boundary. What follows
    an occurrence is collected up to :data:`MAX_OBJECT` bytes and parsed only at the end, once
    per stream (:meth:`first`, :meth:`last`), off the request path.
    """

    __slots__ = ("_carry", "_first", "_key", "_last", "_track_first")

    def __init__(self, key: bytes, track_first: bool = False) -> None:
        self._key = key
        self._carry = b""
        self._first: bytearray | None = None
        self._last: bytearray | None = None
        self._track_first = track_first

    def feed(self, chunk: bytes) -> None:
        key = self._key
        data = self._carry + chunk if self._carry else chunk
        self._carry = data[1 - len(key) :]
        at = data.rfind(key)
        first = self._first
        if first is not None and len(first) < MAX_OBJECT:
            first += chunk[: MAX_OBJECT - len(first)]
        if at != -1:
            if self._track_first and first is None:
                start = data.find(key)
                self._first = bytearray(data[start : start + MAX_OBJECT])
            self._last = bytearray(data[at : at + MAX_OBJECT])
            return
        last = self._last
        if last is not None and len(last) < MAX_OBJECT:
            last += chunk[: MAX_OBJECT - len(last)]

    def _parse(self, tail: bytearray | None) -> dict[str, Any] | None:
        if tail is None:
            return None
        return object_after(bytes(tail), len(self._key))

    def first(self) -> dict[str, Any] | None:
        return self._parse(self._first)

    def last(self) -> dict[str, Any] | None:
        return self._parse(self._last)

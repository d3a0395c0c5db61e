"""Find a provider's usage object in raw bytes without parsing everything around it.

Same-protocol replies are forwarded as bytes; parsing a whole 30 kB completion to read five
integers would cost more than forwarding it. The usage object of every supported protocol is a
small JSON object under a known key, placed after the content, so it is found from the end of
the body and only that slice is parsed. Small bodies are parsed whole: below a few kilobytes
``orjson.loads`` is faster than the scan (docs/observability.md has the measurements).

Only an occurrence whose value is an object (or null: a usage the upstream says it has not got)
counts. A client can put the same key after the real one in what an upstream echoes: a
Responses answer ends with the request's ``metadata``, and OpenAI's metadata values are
strings, so ``metadata: {"usage": "x"}`` made the last ``"usage"`` a string, and the call was
logged and settled without its tokens
(docs/security.md, "Hiding a call's usage behind an echoed key").
"""

from __future__ import annotations

from typing import Any

import orjson

WHOLE_BELOW = 4096
# A usage object is small: anything longer after the key is not the object we look for.
MAX_OBJECT = 2048
_NOT_USAGE, _USAGE, _UNSEEN = 0, 1, 2
_SPACE = b" \t\r\n:"
_OPENS = b"{n"  # an object, or null: "usage": null is a stream's usage not known yet


def _value_kind(data: bytes | bytearray, start: int) -> int:
    """Whether the value after the key ending at ``start`` may be a usage (an object or null),
    is anything else (a string, a number: an echoed key of the client's), or has not arrived
    yet (the bytes end first). Null counts: a usage of null is no usage, never an earlier
    object's (a tool schema's ``"usage": {"type": "object"}`` before it)."""
    end = len(data)
    while start < end and data[start] in _SPACE:
        start += 1
    if start >= end:
        return _UNSEEN
    return _USAGE if data[start] in _OPENS else _NOT_USAGE


def _last_candidate(data: bytes, key: bytes, end: int) -> int:
    """The last occurrence of ``key`` before ``end`` whose value may be a usage, or -1."""
    at = data.rfind(key, 0, end)
    while at != -1 and _value_kind(data, at + len(key)) == _NOT_USAGE:
        at = data.rfind(key, 0, at)
    return at


def _first_candidate(data: bytes, key: bytes) -> int:
    at = data.find(key)
    while at != -1 and _value_kind(data, at + len(key)) == _NOT_USAGE:
        at = data.find(key, at + 1)
    return at


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
    at = _last_candidate(body, key, len(body))
    if at == -1:
        return None
    return object_after(body, at + len(key))


class KeyTail:
    """Remembers the bytes following the first and the last occurrence of a key in a stream.

    A stream arrives in chunks cut anywhere, so the key itself may straddle two chunks: the
    last ``len(key) - 1`` bytes of each chunk are kept to look across the boundary. What follows
    an occurrence is collected up to :data:`MAX_OBJECT` bytes and parsed only at the end, once
    per stream (:meth:`first`, :meth:`last`), off the request path.

    An occurrence whose value is seen not to be a usage is skipped where it is found; one cut
    off right after the key is kept until its value shows, with the last one before it that
    may be (``_kept``) to fall back on.
    """

    __slots__ = ("_carry", "_first", "_kept", "_key", "_last", "_track_first")

    def __init__(self, key: bytes, track_first: bool = False) -> None:
        self._key = key
        self._carry = b""
        self._first: bytearray | None = None
        self._last: bytearray | None = None
        self._kept: bytearray | None = None
        self._track_first = track_first

    def feed(self, chunk: bytes) -> None:
        key = self._key
        data = self._carry + chunk if self._carry else chunk
        self._carry = data[1 - len(key) :]
        first = self._first
        if first is not None and len(first) < MAX_OBJECT:
            first += chunk[: MAX_OBJECT - len(first)]
        last = self._last
        if last is not None and len(last) < MAX_OBJECT:
            last += chunk[: MAX_OBJECT - len(last)]
        if data.find(key) == -1:
            return
        if self._track_first and (first is None or self._wrong(first)):
            start = _first_candidate(data, key)
            if start != -1:
                self._first = bytearray(data[start : start + MAX_OBJECT])
        at = _last_candidate(data, key, len(data))
        if at == -1:
            return
        if last is not None and not self._wrong(last):
            self._kept = last
        if _value_kind(data, at + len(key)) == _UNSEEN:  # an object before it here is kept
            before = _last_candidate(data, key, at)
            if before != -1:
                self._kept = bytearray(data[before : before + MAX_OBJECT])
        self._last = bytearray(data[at : at + MAX_OBJECT])

    def _wrong(self, tail: bytearray) -> bool:
        return _value_kind(tail, len(self._key)) == _NOT_USAGE

    def _parse(self, tail: bytearray | None) -> dict[str, Any] | None:
        if tail is None:
            return None
        return object_after(bytes(tail), len(self._key))

    def first(self) -> dict[str, Any] | None:
        return self._parse(self._first)

    def last(self) -> dict[str, Any] | None:
        last = self._last
        if last is not None and self._wrong(last):  # its value came in a later read
            last = self._kept
        return self._parse(last)

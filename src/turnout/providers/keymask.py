"""Masking the provider key an upstream echoes back, before the client sees it.

The gateway sends its provider key with every attempt, and some upstreams quote it back: an
error that says ``Invalid API key: <the key>``, but also a 2xx answer from a proxy or a debug
server that echoes the request's headers into a header or the body. The client must never
learn the gateway's keys, so every answer an attempt relays has every copy of the key it was
sent with replaced by :data:`MASKED`: its headers, its body, and each chunk of a stream.

This is on the request path of every call, so the searches are kept to what cannot be
avoided: one ``bytes.find`` over a body, one over the header values joined, and per stream
chunk one ``find`` plus a one-byte check of the chunk's end. A key split across two chunks is
caught by holding back a chunk's tail only when that tail could begin the key (its last byte
is a byte of the key): an SSE chunk ends with a newline, which no key holds, so a stream's
events are not delayed. Keys shorter than :data:`SHORTEST` (a local server's placeholder,
``none``) are left alone: they would mask ordinary words.
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter

from turnout.types import Headers

MASKED = b"[redacted]"
SHORTEST = 8  # a shorter "key" (a local server's placeholder) would mask ordinary words
_VALUE = itemgetter(1)


@lru_cache(maxsize=256)
def key_bytes(key: str) -> bytes | None:
    """The key as it would appear on the wire, or None when it is too short to search for
    (cached: a gateway has a handful of keys, and this runs once per attempt)."""
    return key.encode() if len(key) >= SHORTEST else None


def without_key(body: bytes, key: str) -> bytes:
    """``body`` with every copy of ``key`` masked."""
    raw = key_bytes(key)
    if raw is None:
        return body
    return body.replace(raw, MASKED) if body.find(raw) >= 0 else body


def masked_headers(headers: Headers, raw: bytes) -> Headers:
    """``headers`` with every copy of the key ``raw`` masked; the same list when none holds it.
    The common case is one search over the values joined (C loops only: half the cost of a
    Python loop searching each value)."""
    if b"\n".join(map(_VALUE, headers)).find(raw) >= 0:  # not ``in``: it tries an int first
        return [(k, v.replace(raw, MASKED)) for k, v in headers]
    return headers


def scrub(data: bytes, raw: bytes) -> tuple[bytes, bytes]:
    """Split a stream's pending bytes into what may be sent now, every whole copy of the key
    masked, and the tail held back because it could be the start of a key that the next chunk
    completes (the longest such tail: at most ``len(raw) - 1`` bytes)."""
    if data.find(raw) >= 0:
        data = data.replace(raw, MASKED)
    lead = raw[:1]
    pos = data.find(lead, max(0, len(data) - len(raw) + 1))
    while pos != -1:
        if raw.startswith(data[pos:]):
            return data[:pos], data[pos:]
        pos = data.find(lead, pos + 1)
    return data, b""


__all__ = ["MASKED", "SHORTEST", "key_bytes", "masked_headers", "scrub", "without_key"]

"""One stored answer, in the form it was produced, and its byte encoding for shared backends.

An answer is kept as it went to the first client: a JSON body, or the stream's chunks exactly as
they were relayed (so a replay is split like the original). Conversions to the other form are
done when a hit needs them (:mod:`turnout.cache.convert`), never at store time: most answers
are only ever served in the form they were asked in.

The encoding is a small JSON header followed by the raw payload bytes, so decoding a hit is one
``orjson.loads`` of a few hundred bytes plus slicing, whatever the size of the answer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

from turnout.types import Usage

_MAGIC = b"SYC1"
_HEAD = struct.Struct(">4sI")
# What an entry costs beyond its payload in the memory backend (objects, dict slot, key).
OVERHEAD = 256


class CorruptEntry(ValueError):
    """Bytes read from a shared backend are not an entry of this version (treated as a miss)."""


@dataclass(slots=True)
class Entry:
    protocol: str
    model: str  # public model the answer was produced for
    stream: bool  # True: ``frames`` holds the relayed stream chunks; False: ``body``
    body: bytes = b""
    frames: tuple[bytes, ...] = ()
    stored_at: float = 0.0  # unix time
    usage: Usage | None = None
    include_usage: bool = False  # OpenAI: the recorded stream carries a usage chunk
    deployment: str | None = None

    @property
    def payload_size(self) -> int:
        return len(self.body) + sum(len(f) for f in self.frames)

    def size(self) -> int:
        """Bytes charged against the memory bound."""
        return self.payload_size + 16 * len(self.frames) + OVERHEAD


def encode(entry: Entry) -> bytes:
    u = entry.usage
    head = orjson.dumps(
        {
            "p": entry.protocol,
            "m": entry.model,
            "s": entry.stream,
            "t": entry.stored_at,
            "u": None
            if u is None
            else [u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens],
            "iu": entry.include_usage,
            "d": entry.deployment,
            "n": [len(f) for f in entry.frames] if entry.stream else [len(entry.body)],
        }
    )
    payload = b"".join(entry.frames) if entry.stream else entry.body
    return b"".join((_HEAD.pack(_MAGIC, len(head)), head, payload))


def decode(raw: bytes) -> Entry:
    try:
        magic, size = _HEAD.unpack_from(raw)
        if magic != _MAGIC:
            raise CorruptEntry("unknown entry format")
        start = _HEAD.size + size
        head = orjson.loads(raw[_HEAD.size : start])
        sizes: list[int] = head["n"]
        if start + sum(sizes) != len(raw):
            raise CorruptEntry("entry length does not match its header")
        view = memoryview(raw)
        parts: list[bytes] = []
        pos = start
        for n in sizes:
            parts.append(bytes(view[pos : pos + n]))
            pos += n
        u = head["u"]
        stream = bool(head["s"])
        return Entry(
            protocol=head["p"],
            model=head["m"],
            stream=stream,
            body=b"" if stream else parts[0],
            frames=tuple(parts) if stream else (),
            stored_at=float(head["t"]),
            usage=None if u is None else Usage(*u),
            include_usage=bool(head["iu"]),
            deployment=head["d"],
        )
    except CorruptEntry:
        raise
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
        raise CorruptEntry(f"unreadable entry: {exc}") from None

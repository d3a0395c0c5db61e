"""AWS event-stream framing (``application/vnd.amazon.eventstream``): Bedrock's streaming
responses, decoded incrementally and with bounds.

One message is::

    total length (4, big-endian) | headers length (4) | prelude CRC32 (4)
    headers (name length 1, name, value type 1, value) | payload | message CRC32 (4)

The upstream is untrusted: a length is believed only after the prelude's CRC matched, a message
may be at most :data:`MAX_MESSAGE` bytes and its headers :data:`MAX_HEADERS` (botocore's own
decoder allows 24 MiB payloads and 128 KiB of headers), and the buffer is a ``bytearray``
consumed from the front, so a message sent one byte at a time costs linear time, not quadratic.
Any violation is an :class:`EventStreamError`, which the provider turns into an invalid-answer
failure (502) of the upstream, never the client's.

:func:`encode` writes a message; the mock provider uses it to play Bedrock.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAX_MESSAGE = 16 * 1024 * 1024  # the same bound as one SSE event (protocols/sse.py)
MAX_HEADERS = 128 * 1024
_PRELUDE = 12
_MIN_MESSAGE = _PRELUDE + 4
_TRUE, _FALSE, _BYTE, _SHORT, _INT, _LONG, _BYTES, _STRING, _TIME, _UUID = range(10)
_FIXED = {_BYTE: 1, _SHORT: 2, _INT: 4, _LONG: 8, _TIME: 8, _UUID: 16}


class EventStreamError(ValueError):
    """Bytes that are not a well-formed event stream (or exceed its bounds)."""


@dataclass(frozen=True, slots=True)
class Message:
    headers: dict[str, str | bytes | int | bool]
    payload: bytes

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""


def _crc(data: bytes | memoryview, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def _headers(raw: memoryview) -> dict[str, str | bytes | int | bool]:
    out: dict[str, str | bytes | int | bool] = {}
    i, end = 0, len(raw)
    while i < end:
        size = raw[i]
        name_end = i + 1 + size
        if size == 0 or name_end + 1 > end:
            raise EventStreamError("header name cut short")
        name = bytes(raw[i + 1 : name_end]).decode("utf-8", "replace")
        kind = raw[name_end]
        i = name_end + 1
        value: str | bytes | int | bool
        if kind in (_TRUE, _FALSE):
            value = kind == _TRUE
        elif kind in _FIXED:
            width = _FIXED[kind]
            if i + width > end:
                raise EventStreamError("header value cut short")
            chunk = bytes(raw[i : i + width])
            value = chunk if kind == _UUID else int.from_bytes(chunk, "big", signed=True)
            i += width
        elif kind in (_BYTES, _STRING):
            if i + 2 > end:
                raise EventStreamError("header value cut short")
            length = int.from_bytes(raw[i : i + 2], "big")
            if i + 2 + length > end:
                raise EventStreamError("header value cut short")
            data = bytes(raw[i + 2 : i + 2 + length])
            value = data.decode("utf-8", "replace") if kind == _STRING else data
            i += 2 + length
        else:
            raise EventStreamError(f"unknown header value type {kind}")
        out[name] = value
    return out


class EventStreamDecoder:
    """Feed bytes as they arrive; get the complete messages they finish."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._max = max_message

    @property
    def pending(self) -> int:
        """Bytes of an unfinished message (a stream that ends with some was cut)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        out: list[Message] = []
        while len(buf) >= _PRELUDE:
            total, head_len, prelude_crc = struct.unpack_from(">III", buf)
            if _crc(bytes(buf[:8])) != prelude_crc:
                raise EventStreamError("prelude checksum mismatch")
            if total > self._max:
                raise EventStreamError(f"message of {total} bytes exceeds {self._max}")
            if head_len > MAX_HEADERS or total < _MIN_MESSAGE + head_len:
                raise EventStreamError("impossible header or message length")
            if len(buf) < total:
                break
            view = memoryview(buf)
            try:
                (message_crc,) = struct.unpack_from(">I", view, total - 4)
                if _crc(view[: total - 4]) != message_crc:
                    raise EventStreamError("message checksum mismatch")
                headers = _headers(view[_PRELUDE : _PRELUDE + head_len])
                payload = bytes(view[_PRELUDE + head_len : total - 4])
            finally:
                view.release()
            del buf[:total]
            out.append(Message(headers, payload))
        return out


def encode(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (all Bedrock sends)."""
    head = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        head += bytes([len(raw_name)]) + raw_name + bytes([_STRING])
        head += len(raw_value).to_bytes(2, "big") + raw_value
    total = _MIN_MESSAGE + len(head) + len(payload)
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", _crc(prelude))
    body = prelude + bytes(head) + payload
    return body + struct.pack(">I", _crc(body))


__all__ = ["MAX_MESSAGE", "EventStreamDecoder", "EventStreamError", "Message", "encode"]

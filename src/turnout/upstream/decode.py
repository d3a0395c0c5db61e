"""Incremental decoding of compressed upstream bodies (``Content-Encoding``).

The gateway asks for ``identity``, but proxies and some servers compress anyway; a stream must
then be decoded as it arrives, chunk by chunk, or SSE frames would reach the client as
compressed bytes labelled ``text/event-stream``. gzip and deflate (zlib or raw) use the
standard library, brotli the ``brotli`` package. An unknown encoding is left alone (relayed
with its header); a corrupt body is a ValueError, which the client maps to a 502.
"""

from __future__ import annotations

import zlib
from typing import Protocol


class Decoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _Zlib:
    __slots__ = ("_d", "_raw_fallback", "_started")

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS  # "deflate" is zlib, or raw in practice
        self._started = False

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(data)
        except zlib.error as exc:
            if self._raw_fallback and not self._started:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                return self.feed(data)
            raise ValueError(f"corrupt compressed body ({exc})") from None
        self._started = True
        return out

    def flush(self) -> bytes:
        return self._d.flush()


class _Brotli:
    __slots__ = ("_d",)

    def __init__(self) -> None:
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        try:
            return bytes(self._d.process(data))
        except Exception as exc:  # brotli.error is not exported under one stable name
            raise ValueError(f"corrupt brotli body ({exc})") from None

    def flush(self) -> bytes:
        return b""


def decoder_for(encoding: bytes) -> Decoder | None:
    """A decoder for a ``Content-Encoding`` value, or None to relay the body untouched."""
    enc = encoding.strip().lower()
    if enc in (b"gzip", b"x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if enc == b"deflate":
        return _Zlib(zlib.MAX_WBITS)
    if enc == b"br":
        return _Brotli()
    return None

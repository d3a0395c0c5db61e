"""Incremental decoding of compressed upstream bodies (``Content-Encoding``).

The gateway asks for ``identity``, but proxies and some servers compress anyway; a stream must
then be decoded as it arrives, chunk by chunk, or SSE frames would reach the client as
compressed bytes labelled ``text/event-stream``. gzip and deflate (zlib or raw) use the
standard library, brotli the ``brotli`` package. An unknown encoding is left alone (relayed
with its header); a corrupt body is a ValueError, which the client maps to a 502.

Every call returns at most :data:`STEP` decoded bytes, whatever it was fed: a 64 KiB chunk of
a compression bomb inflates to 64 MB with zlib and to gigabytes with brotli, and the body
cap above (``providers.<name>.max_response_bytes``) can only refuse what it is shown. So a
decoder is fed one upstream chunk, then drained with :meth:`Decoder.more` until it gives
``b""``; the caller sees the output in steps and stops as soon as it has seen too much.
"""

from __future__ import annotations

import zlib
from typing import Protocol

STEP = 256 * 1024  # the most decoded bytes one call returns


class Decoder(Protocol):
    def feed(self, data: bytes) -> bytes:
        """Decode the start of ``data``: at most STEP bytes; call :meth:`more` for the rest."""
        ...

    def more(self) -> bytes:
        """The next at most STEP bytes of what was fed, or ``b""`` when it needs more input."""
        ...

    def flush(self) -> bytes:
        """At the end of the body: the rest, in steps (call until ``b""``)."""
        ...


class _Zlib:
    __slots__ = ("_d", "_raw_fallback", "_started")

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS  # "deflate" is zlib, or raw in practice
        self._started = False

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(data, STEP)
        except zlib.error as exc:
            if self._raw_fallback and not self._started:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                return self.feed(data)
            raise ValueError(f"corrupt compressed body ({exc})") from None
        self._started = True
        return out

    def more(self) -> bytes:
        tail = self._d.unconsumed_tail
        if not tail:
            return b""
        try:
            return self._d.decompress(tail, STEP)
        except zlib.error as exc:
            raise ValueError(f"corrupt compressed body ({exc})") from None

    def flush(self) -> bytes:
        out = self.more()
        return out if out else self._d.flush(STEP)


# brotli stops growing its output buffer once it reaches the limit, so a call overshoots by up
# to one buffer block (about half the limit, measured); a quarter step keeps every call under.
_BROTLI_LIMIT = STEP // 4


class _Brotli:
    __slots__ = ("_d",)

    def __init__(self) -> None:
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        try:
            return bytes(self._d.process(data, output_buffer_limit=_BROTLI_LIMIT))
        except Exception as exc:  # brotli.error is not exported under one stable name
            raise ValueError(f"corrupt brotli body ({exc})") from None

    def more(self) -> bytes:
        # Output may be pending even when the decoder would accept input again, so ask until
        # it gives nothing (it then needs input) or the stream is finished.
        if self._d.is_finished():
            return b""
        try:
            return bytes(self._d.process(b"", output_buffer_limit=_BROTLI_LIMIT))
        except Exception as exc:
            raise ValueError(f"corrupt brotli body ({exc})") from None

    def flush(self) -> bytes:
        return self.more()


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

"""Compressed upstream bodies are decoded in bounded steps, so a compression bomb cannot
inflate in memory before the body cap sees it (docs/security.md, upstream answers)."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib

import brotli
import pytest

from turnout.errors import UpstreamInvalid
from turnout.providers.relay import read_body
from turnout.upstream.base import Timeouts
from turnout.upstream.decode import STEP, Decoder, decoder_for
from turnout.upstream.pooled import PooledClient

BOMB_SIZE = 64 * 1024 * 1024  # decoded; a few tens of KiB on the wire
T = Timeouts(connect=2, read=5, total=20)


def _compress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=9)
    if encoding == "deflate":
        return zlib.compress(data, 9)
    return bytes(brotli.compress(data, quality=11))


def _drain(decoder: Decoder, wire: bytes, piece: int) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(wire), piece):
        step = decoder.feed(wire[i : i + piece])
        while step:
            out.append(step)
            step = decoder.more()
        assert decoder.more() == b""  # drained: it needs input now
    while step := decoder.flush():
        out.append(step)
    return out


@pytest.fixture(scope="module")
def zeros() -> bytes:
    return bytes(BOMB_SIZE)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
@pytest.mark.parametrize("piece", [7, 65536, 10**9])
def test_every_step_is_bounded_and_nothing_is_lost(encoding: str, piece: int) -> None:
    data = bytes(range(256)) * 4096 + bytes(3 * STEP)  # 1 MiB of text-like bytes, then zeros
    decoder = decoder_for(encoding.encode())
    assert decoder is not None
    steps = _drain(decoder, _compress(encoding, data), piece)
    assert max(len(s) for s in steps) <= STEP
    assert b"".join(steps) == data


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_a_bomb_is_refused_without_inflating(encoding: str, zeros: bytes) -> None:
    wire = _compress(encoding, zeros)
    assert len(wire) < BOMB_SIZE // 200  # it is a bomb

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        await r.readexactly(2)
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: %s\r\ncontent-length: %d\r\n\r\n"
            % (encoding.encode(), len(wire))
        )
        w.write(wire)
        await w.drain()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = PooledClient(environ={})
    cap = 1024 * 1024
    try:
        resp = await client.request("POST", f"http://127.0.0.1:{port}/x", [], b"{}", T)
        tracemalloc.start()
        try:
            with pytest.raises(UpstreamInvalid, match="max_response_bytes"):
                await read_body(resp, cap, "bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # The cap plus a few decoding steps, never the 64 MiB the body inflates to.
        assert peak < cap + 8 * STEP, peak
    finally:
        await client.close()
        server.close()

"""The upstream port on the pool: errors mapped to the gateway's, timeouts that fire."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from turnout.errors import OutboundRefused, UpstreamTimeout, UpstreamUnavailable
from turnout.upstream.base import Timeouts
from turnout.upstream.pooled import PooledClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/chat/completions"


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture(loop_scope="function")
async def client() -> AsyncIterator[PooledClient]:
    c = PooledClient()
    yield c
    await c.close()


T = Timeouts(connect=1, read=0.3, total=5)


async def test_json_and_headers(client: PooledClient) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Thing: 1\r\n"
            b"Content-Length: 2\r\n\r\n{}"
        )
        await w.drain()

    server, url = await _serve(handler)
    resp = await client.request("POST", url, [("authorization", "Bearer k")], b"{}", T)
    assert resp.status == 201
    assert (b"content-type", b"application/json") in resp.headers  # names lower-cased
    assert await resp.read() == b"{}"
    server.close()


async def test_refused_is_unavailable(client: PooledClient) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1/x"
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        await client.request("POST", url, [], b"{}", T)


async def test_silence_before_the_head_is_a_timeout(client: PooledClient) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        await asyncio.sleep(5)

    server, url = await _serve(handler)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamTimeout):
        await client.request("POST", url, [], b"{}", T)
    assert 0.25 < loop.time() - started < 1.5
    server.close()


async def test_a_stream_that_stalls_times_out_but_a_slow_steady_one_does_not(
    client: PooledClient,
) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(6):  # 6 x 0.15 s: longer than the read timeout in total, never silent
            w.write(b"5\r\nhello\r\n")
            await w.drain()
            await asyncio.sleep(0.15)
        await asyncio.sleep(5)  # then stall

    server, url = await _serve(handler)
    resp = await client.request("POST", url, [], b"{}", T)
    got = b""
    with pytest.raises(UpstreamTimeout):
        async for chunk in resp.iter_chunks():
            got += chunk
    assert got == b"hello" * 6
    server.close()


async def test_total_deadline(client: PooledClient) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            w.write(b"1\r\nx\r\n")
            await w.drain()
            await asyncio.sleep(0.05)

    server, url = await _serve(handler)
    resp = await client.request("POST", url, [], b"{}", Timeouts(connect=1, read=1, total=0.4))
    with pytest.raises(UpstreamTimeout, match="deadline"):
        async for _ in resp.iter_chunks():
            pass
    server.close()


async def test_reset_mid_body_is_unavailable(client: PooledClient) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
        await w.drain()
        w.transport.abort()

    server, url = await _serve(handler)
    resp = await client.request("POST", url, [], b"{}", T)
    with pytest.raises(UpstreamUnavailable, match="closed"):
        await resp.read()
    server.close()


async def test_abandoning_a_stream_closes_the_upstream_connection(client: PooledClient) -> None:
    closed = asyncio.Event()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await w.drain()
        await r.read()  # returns when the client closes its side
        closed.set()

    server, url = await _serve(handler)
    resp = await client.request("POST", url, [], b"{}", T)
    chunks = resp.iter_chunks()
    assert await anext(chunks) == b"hello"
    await chunks.aclose()
    await asyncio.wait_for(closed.wait(), 1)
    server.close()


async def test_unsupported_scheme(client: PooledClient) -> None:
    with pytest.raises(OutboundRefused, match=r"\(scheme\)"):
        await client.request("POST", "ftp://example/x", [], b"", T)


async def test_headers_are_checked_every_time_and_kept_encoded_within_bounds(
    client: PooledClient,
) -> None:
    """A header that cannot go upstream is refused whenever it comes, even after good ones
    were kept encoded; what is kept stays bounded whatever the values."""
    from turnout.errors import BadRequest
    from turnout.upstream import pooled

    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await r.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            seen.append(head)
            await r.readexactly(2)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await w.drain()

    server, url = await _serve(handler)
    good = [("authorization", "Bearer k"), ("x-tag", "a")]
    for _ in range(3):
        resp = await client.request("POST", url, good, b"{}", T)
        assert await resp.read() == b"{}"
    assert all(b"\r\nauthorization: Bearer k\r\n" in head for head in seen)
    for bad in (("x-tag", "a\r\nx-evil: 1"), ("bad name", "a"), ("x-tag", "caf\u00e9\u20ac")):
        with pytest.raises(BadRequest):
            await client.request("POST", url, [*good, bad], b"{}", T)
    long = "v" * (pooled._ENCODED_VALUE_MAX + 1)
    for i in range(pooled._ENCODED_MAX + 10):
        resp = await client.request("POST", url, [("x-n", str(i)), ("x-long", long)], b"{}", T)
        await resp.read()
    assert len(client._encoded) <= pooled._ENCODED_MAX
    assert ("x-long", long) not in client._encoded
    assert len(seen) == 3 + pooled._ENCODED_MAX + 10
    server.close()

"""What the pooled client adds around the pool, against scripted servers on loopback: header
checks, decoding of compressed bodies, the per-origin connection limit with a bounded wait,
TLS trust and client certificates per provider, the outbound policy for checked origins, and
the proxy rules of the environment."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import brotli
import pytest
import pytest_asyncio

from tests.support.certs import TestCA
from turnout.errors import BadRequest, OutboundRefused, UpstreamUnavailable
from turnout.upstream.base import Egress, Timeouts
from turnout.upstream.pooled import PooledClient
from turnout.upstream.proxy import Proxy, ProxyRules, bypassed

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
T = Timeouts(connect=2, read=2, total=5)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


async def serve(handler: Handler, ctx: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx)
    return server, int(server.sockets[0].getsockname()[1])


@pytest_asyncio.fixture(loop_scope="function")
async def client() -> AsyncIterator[PooledClient]:
    c = PooledClient(environ={})
    yield c
    await c.close()


# -- header checks -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-ok", "a\r\nInjected: 1"),
        ("x-ok", "a\nb"),
        ("x-ok", "a\x00b"),
        ("bad name", "v"),
        ("bad:name", "v"),
        ("", "v"),
    ],
)
async def test_a_header_that_would_split_the_request_is_refused(
    client: PooledClient, name: str, value: str
) -> None:
    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        seen.append(await read_request(r))

    server, port = await serve(handler)
    with pytest.raises(BadRequest) as info:
        await client.request("POST", f"http://127.0.0.1:{port}/x", [(name, value)], b"{}", T)
    assert "Injected" not in info.value.message and "\x00" not in info.value.message
    assert seen == []  # nothing was sent
    server.close()


# -- decoding ----------------------------------------------------------------------------------
BODY = b'{"id":"x","choices":[{"message":{"content":"hello hello hello"}}]}'
FRAMES = [b'data: {"n":%d}\n\n' % i for i in range(20)] + [b"data: [DONE]\n\n"]


def _chunked(parts: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_compressed_bodies_are_decoded(client: PooledClient, encoding: str) -> None:
    def compress(data: bytes) -> bytes:
        if encoding == "gzip":
            return gzip.compress(data)
        if encoding == "deflate":
            return zlib.compress(data)
        if encoding == "raw-deflate":
            c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            return c.compress(data) + c.flush()
        return bytes(brotli.compress(data))

    label = b"deflate" if "deflate" in encoding else encoding.encode()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        body = compress(BODY)
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (label, len(body), body)
        )
        await w.drain()
        await read_request(r)
        stream = compress(b"".join(FRAMES))
        # the compressed stream cut into small pieces, sent one by one
        pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: %s\r\ntransfer-encoding: chunked\r\n\r\n" % label
        )
        for piece in pieces:
            w.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await w.drain()
        w.write(b"0\r\n\r\n")
        await w.drain()

    server, port = await serve(handler)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    resp = await client.request("POST", url, [], b"{}", T)
    assert (b"content-encoding", label) not in resp.headers
    assert await resp.read() == BODY
    resp = await client.request("POST", url, [], b"{}", T)
    got = b"".join([chunk async for chunk in resp.iter_chunks()])
    assert got == b"".join(FRAMES)
    server.close()


async def test_a_corrupt_compressed_body_is_an_upstream_failure(client: PooledClient) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 9\r\n\r\nnot gzip!")
        await w.drain()

    server, port = await serve(handler)
    resp = await client.request("POST", f"http://127.0.0.1:{port}/x", [], b"{}", T)
    with pytest.raises(UpstreamUnavailable, match="corrupt"):
        await resp.read()
    server.close()


# -- connection limit --------------------------------------------------------------------------
async def test_the_connection_limit_waits_then_gives_up(client: PooledClient) -> None:
    release = asyncio.Event()
    connections = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            await read_request(r)
            await release.wait()
            w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await w.drain()

    server, port = await serve(handler)
    egress = Egress(max_connections=1, pool_timeout=0.2)
    url = f"http://127.0.0.1:{port}/x"
    first = asyncio.create_task(client.request("POST", url, [], b"{}", T, egress))
    await asyncio.sleep(0)
    with pytest.raises(UpstreamUnavailable, match="all 1 connections busy"):
        await client.request("POST", url, [], b"{}", T, egress)
    # a waiter that is served in time gets the connection when it is free
    waiter = asyncio.create_task(client.request("POST", url, [], b"{}", T, egress))
    release.set()
    assert await (await first).read() == b"ok"
    assert await (await waiter).read() == b"ok"
    assert connections == 1
    server.close()


# -- TLS per provider --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


def server_ctx(ca: TestCA, client_ca: Path | None = None) -> ssl.SSLContext:
    leaf = ca.server("localhost", "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(leaf.cert, leaf.key)
    if client_ca is not None:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def ok_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while True:
            await read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await w.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass


async def test_a_private_ca_is_trusted_per_provider(client: PooledClient, ca: TestCA) -> None:
    server, port = await serve(ok_handler, server_ctx(ca))
    url = f"https://localhost:{port}/x"
    with pytest.raises(UpstreamUnavailable, match=r"TLS|certificate"):
        await client.request("POST", url, [], b"{}", T)  # the system's trust store
    trusted = Egress(ca_file=str(ca.cert))
    assert await (await client.request("POST", url, [], b"{}", T, trusted)).read() == b"ok"
    unchecked = Egress(verify=False)
    assert await (await client.request("POST", url, [], b"{}", T, unchecked)).read() == b"ok"
    server.close()


async def test_a_client_certificate_is_presented_when_configured(
    client: PooledClient, ca: TestCA
) -> None:
    server, port = await serve(ok_handler, server_ctx(ca, client_ca=ca.cert))
    url = f"https://localhost:{port}/x"
    anonymous = Egress(ca_file=str(ca.cert))
    with pytest.raises(UpstreamUnavailable):
        resp = await client.request("POST", url, [], b"{}", T, anonymous)
        await resp.read()
    pair = ca.client()
    mtls = Egress(ca_file=str(ca.cert), cert_file=str(pair.cert), key_file=str(pair.key))
    assert await (await client.request("POST", url, [], b"{}", T, mtls)).read() == b"ok"
    server.close()


# -- the outbound policy in the client ---------------------------------------------------------
async def test_destinations_from_the_admin_api_are_checked(client: PooledClient) -> None:
    server, port = await serve(ok_handler)
    url = f"http://127.0.0.1:{port}/x"
    assert await (await client.request("POST", url, [], b"{}", T)).read() == b"ok"
    with pytest.raises(OutboundRefused, match=r"\(loopback\)"):
        await client.request("POST", url, [], b"{}", T, Egress(origin="admin"))
    server.close()


# -- proxy rules -------------------------------------------------------------------------------
def test_proxies_from_the_environment() -> None:
    rules = ProxyRules.from_env(
        {
            "HTTPS_PROXY": "http://user:p%40ss@proxy.corp:3128",
            "http_proxy": "proxy.corp:8080",
            "NO_PROXY": "localhost,.internal.example, 10.0.0.0/8 ,api.example.com:8443,[::1]",
        }
    )
    https = rules.select("https", "api.openai.com", 443)
    assert https is not None and (https.host, https.port) == ("proxy.corp", 3128)
    assert https.authorization == b"Basic dXNlcjpwQHNz"  # user:p@ss
    assert "p@ss" not in repr(https)
    plain = rules.select("http", "example.org", 80)
    assert plain is not None and plain.port == 8080
    for host, port in [
        ("localhost", 80),
        ("a.internal.example", 443),
        ("internal.example", 1),
        ("10.1.2.3", 80),
        ("api.example.com", 8443),
        ("::1", 80),
    ]:
        assert rules.select("https", host, port) is None, host
    assert rules.select("https", "api.example.com", 443) is not None  # another port
    assert rules.select("https", "notinternal.example", 443) is not None
    assert bypassed(("*",), "anything", 1)


def test_proxy_urls() -> None:
    assert Proxy.parse("http://p:3128") == Proxy("p", 3128)
    assert Proxy.parse("p") == Proxy("p", 80)
    with pytest.raises(ValueError, match="http:// only"):
        Proxy.parse("socks5://p:1080")

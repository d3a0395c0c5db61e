"""Upstream-client adapters used by every proxy candidate (selected by $PROXY_CLIENT).

Each adapter exposes the same two coroutines, as thin as each library allows:

    status, body            = await up.send(body)          # non-stream: whole body
    status, chunks, aclose  = await up.open_stream(body)   # stream: native async iterator

``chunks`` is the library's own iterator wherever it has one, so the per-chunk cost
measured is the library's. All clients keep connections alive and have a large pool.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

UPSTREAM = os.environ.get("UPSTREAM", "127.0.0.1:18000")
HOST, _, PORT = UPSTREAM.partition(":")
URL = f"http://{UPSTREAM}/v1/chat/completions"
PATH = b"/v1/chat/completions"
FWD_HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
POOL = 1024

Stream = tuple[int, AsyncIterator[bytes], Callable[[], Awaitable[None]]]


class Custom:
    def __init__(self) -> None:
        from turnout.upstream.h1 import Pool  # the gateway's own pool

        self.pool = Pool(HOST, int(PORT), max_idle=POOL)
        self.h = [(k.encode(), v.encode()) for k, v in FWD_HEADERS.items()]

    async def send(self, body: bytes) -> tuple[int, bytes]:
        r = await self.pool.request(b"POST", PATH, self.h, body)
        return r.status, await r.read()

    async def open_stream(self, body: bytes) -> Stream:
        r = await self.pool.request(b"POST", PATH, self.h, body)

        async def aclose() -> None:
            r.close()

        return r.status, r, aclose


class Aiohttp:
    def __init__(self) -> None:
        import aiohttp

        self.s = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL, keepalive_timeout=60),
            auto_decompress=False,
        )

    async def send(self, body: bytes) -> tuple[int, bytes]:
        async with self.s.post(URL, data=body, headers=FWD_HEADERS) as r:
            return r.status, await r.read()

    async def open_stream(self, body: bytes) -> Stream:
        r = await self.s.post(URL, data=body, headers=FWD_HEADERS)

        async def aclose() -> None:
            r.release()

        return r.status, r.content.iter_any(), aclose


class Httpx:
    def __init__(self) -> None:
        import httpx

        self.c = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
            timeout=60,
        )

    async def send(self, body: bytes) -> tuple[int, bytes]:
        r = await self.c.post(URL, content=body, headers=FWD_HEADERS)
        return r.status_code, r.content

    async def open_stream(self, body: bytes) -> Stream:
        req = self.c.build_request("POST", URL, content=body, headers=FWD_HEADERS)
        r = await self.c.send(req, stream=True)
        return r.status_code, r.aiter_raw(), r.aclose


class Aiosonic:
    def __init__(self) -> None:
        import aiosonic
        from aiosonic.pools import PoolConfig

        cfg = PoolConfig(size=POOL, max_conn_requests=None)
        self.c = aiosonic.HTTPClient(
            connector=aiosonic.TCPConnector(pool_configs={":default": cfg})
        )

    async def send(self, body: bytes) -> tuple[int, bytes]:
        r = await self.c.post(URL, data=body, headers=FWD_HEADERS)
        return r.status_code, await r.content()

    async def open_stream(self, body: bytes) -> Stream:
        r = await self.c.post(URL, data=body, headers=FWD_HEADERS)
        it = r.read_chunks()
        return r.status_code, it, it.aclose


class Pyreqwest:
    def __init__(self) -> None:
        from pyreqwest.client import ClientBuilder

        self.c = (
            ClientBuilder()
            .max_connections(None)
            .pool_max_idle_per_host(POOL)
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .build()
        )

    async def send(self, body: bytes) -> tuple[int, bytes]:
        r = await self.c.post(URL).headers(FWD_HEADERS).body_bytes(body).build().send()
        return r.status, (await r.bytes()).to_bytes()

    async def open_stream(self, body: bytes) -> Stream:
        cm = self.c.post(URL).headers(FWD_HEADERS).body_bytes(body).build_streamed()
        r = await cm.__aenter__()
        reader = r.body_reader

        async def chunks() -> AsyncIterator[bytes]:
            while (c := await reader.read_chunk()) is not None:
                yield c.to_bytes()

        async def aclose() -> None:
            await cm.__aexit__(None, None, None)

        return r.status, chunks(), aclose


KINDS: dict[str, Any] = {
    "custom": Custom,
    "aiohttp": Aiohttp,
    "httpx": Httpx,
    "aiosonic": Aiosonic,
    "pyreqwest": Pyreqwest,
}


def make_client(kind: str | None = None) -> Any:
    """Create the selected client; must be called with the serving event loop running."""
    return KINDS[kind or os.environ.get("PROXY_CLIENT", "custom")]()

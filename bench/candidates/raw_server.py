"""A proxy without a server framework: an asyncio Protocol with httptools' request parser that
calls the handler directly (no ASGI scope, messages or cycle object), on uvloop.

What the HTTP server layer costs at the least in Python: the floor that a protocol written for
the gateway could reach, against uvicorn's ASGI cycle with the same client
(docs/measurements.md). Keep-alive only; no pipelining, limits or timeouts.

PORT=18080 UPSTREAM=127.0.0.1:18000 PROXY_CLIENT=custom python raw_server.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import httptools
import orjson
import uvloop

from clients import make_client

JSON_HEAD = b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
SSE_HEAD = (
    b"HTTP/1.1 %d OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


class Proxy(asyncio.Protocol):
    def __init__(self, up: Any) -> None:
        self.up = up
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.parser = None  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        asyncio.get_running_loop().create_task(self.handle(b"".join(self.body)))

    async def handle(self, body: bytes) -> None:
        t = self.transport
        if t is None:
            return
        req = orjson.loads(body)
        if req.get("stream") is not True:
            status, data = await self.up.send(body)
            t.write(JSON_HEAD % (status, len(data)) + data)
            return
        status, chunks, aclose = await self.up.open_stream(body)
        try:
            t.write(SSE_HEAD % status)
            async for chunk in chunks:
                t.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            t.write(b"0\r\n\r\n")
        finally:
            await aclose()


async def main() -> None:
    up = make_client()
    loop = asyncio.get_running_loop()
    port = int(os.environ.get("PORT", "18080"))
    server = await loop.create_server(lambda: Proxy(up), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())

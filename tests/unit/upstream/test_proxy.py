"""A CONNECT tunnel through an HTTP proxy: what opening one leaves behind."""

from __future__ import annotations

import asyncio
import gc

import pytest
import uvloop

from turnout.upstream.proxy import Proxy, ProxyError, open_tunnel


async def _proxy(answer: bytes) -> tuple[asyncio.Server, int]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(answer)
        await w.drain()
        await r.read()  # until the client closes
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    "answer", [b"HTTP/1.1 200 Connection established\r\n\r\n", b"HTTP/1.1 407 No\r\n\r\n"]
)
def test_opening_a_tunnel_leaves_no_cycle(answer: bytes) -> None:
    """The CONNECT reply's parser held its callbacks, a cycle per tunnelled connection left to
    the cyclic GC, which the gateway runs seldom (turnout.allocator)."""

    async def main() -> None:
        server, port = await _proxy(answer)
        proxy = Proxy("127.0.0.1", port)

        async def once() -> None:
            try:
                transport = await open_tunnel(proxy, "example.test", 443)
            except ProxyError:
                return
            transport.close()

        await once()  # warm: first-use caches are not per tunnel
        gc.collect()
        gc.disable()
        try:
            for _ in range(10):
                await once()
            for _ in range(5):
                await asyncio.sleep(0)  # closed transports let go of their protocols
            assert gc.collect() == 0
        finally:
            gc.enable()
            server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(main(), 10))

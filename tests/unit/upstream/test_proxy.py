"""A CONNECT tunnel through an HTTP proxy: what opening one leaves behind."""

from __future__ import annotations

import asyncio
import gc

import pytest
import uvloop

from tests.support.wait import until_async
from turnout.upstream.proxy import Proxy, ProxyError, open_tunnel


async def _proxy(answer: bytes, closed: list[int]) -> tuple[asyncio.Server, int]:
    """A proxy answering ``answer`` to CONNECT; ``closed`` counts the connections the client
    closed."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(answer)
        await w.drain()
        await r.read()  # until the client closes
        w.close()
        closed.append(1)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    "answer", [b"HTTP/1.1 200 Connection established\r\n\r\n", b"HTTP/1.1 407 No\r\n\r\n"]
)
def test_opening_a_tunnel_leaves_no_cycle(answer: bytes) -> None:
    """The CONNECT reply's parser held its callbacks, a cycle per tunnelled connection left to
    the cyclic GC, which the gateway runs seldom (turnout.allocator)."""

    async def main() -> None:
        closed: list[int] = []
        server, port = await _proxy(answer, closed)
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
            # Both ends have seen every connection closed: the transports let go of them.
            await until_async(lambda: len(closed) == 11)
            assert gc.collect() == 0
        finally:
            gc.enable()
            server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(main(), 10))

"""A relayed stream leaves nothing for the cyclic garbage collector, however it ends.

The gateway raises the young generation's threshold to 10,000 (turnout.allocator) because a
proxied call frees what it allocates by reference counting. An object cycle per stream breaks
that: dead streams (their tasks, frames and buffers) then pile up between collections, which
is how a cancelled disconnect watcher once added ~2 MB to the peak RSS under stream load.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import pytest

from tests.unit.cache.helpers import make_call
from tests.unit.server.test_cycle import cycle
from turnout.api.io import StreamAborted, send_stream
from turnout.types import Call

DONE = b"data: [DONE]\n\n"


class Client:
    """The server side of one connection, as uvicorn's cycle behaves: ``receive`` waits until
    the response is complete or the client leaves, then says ``http.disconnect``."""

    def __init__(self, leave_after: int | None = None) -> None:
        self.leave_after = leave_after
        self.sent: list[MutableMapping[str, Any]] = []
        self.ended = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.ended.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        await asyncio.sleep(0)  # a write may wait for the client to read
        self.sent.append(message)
        bodies = sum(1 for m in self.sent if m["type"] == "http.response.body")
        if not message.get("more_body", True) or bodies == self.leave_after:
            self.ended.set()


async def frames(n: int, fail: bool = False, end: bool = True) -> AsyncIterator[bytes]:
    for i in range(n):
        await asyncio.sleep(0)
        yield b'data: {"i": %d}\n\n' % i
    if fail:
        raise ConnectionResetError("upstream reset")
    if end:
        yield DONE


async def relay(client: Client, chunks: AsyncIterator[bytes]) -> Call:
    """What the endpoint does; an exception ends here, as the server's task ends on it."""
    call = make_call("openai", {}, stream=True)
    task = asyncio.current_task()
    try:
        await send_stream(
            client.send, client.receive, call, task, 200, [], chunks, DONE, observer=None
        )
    except StreamAborted:
        call.error = call.error or "aborted"
    return call


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def settle() -> None:
    """Until every other task (the cancelled disconnect watchers) has finished."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others)


async def test_complete_streams_leave_no_cycles(no_gc: None) -> None:
    for _ in range(50):
        client = Client()
        call = await asyncio.create_task(relay(client, frames(5)))
        assert call.error is None
        assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    await settle()
    assert gc.collect() == 0


async def test_streams_whose_client_leaves_leave_no_cycles(no_gc: None) -> None:
    for _ in range(50):
        client = Client(leave_after=2)
        call = await asyncio.create_task(relay(client, frames(50)))
        assert (call.status, call.error) == (499, "client_disconnected")
    await settle()
    assert gc.collect() == 0


async def test_a_client_that_leaves_after_the_end_marker_is_not_a_departure() -> None:
    """The OpenAI SDK closes the connection as soon as it reads [DONE]: the stream was
    complete (flaky 499 rows in tests/faults/test_client_departure.py under load, and a
    complete stream must not be counted as cut short, usage.base.cut_short)."""
    client = Client(leave_after=6)  # five frames, then [DONE]: gone before the empty last one
    call = await asyncio.create_task(relay(client, frames(5)))
    await settle()
    assert call.relayed_all and call.error is None and call.status != 499


async def test_a_client_gone_while_the_upstream_end_is_awaited_is_no_departure() -> None:
    """The upstream's last empty chunk may come after its [DONE] (its own write, or late under
    load): a client that reads [DONE] and leaves in that gap had the whole stream too (the
    flaky 499 row of tests/faults/test_client_departure.py's SIGHUP test, 5 of 15 runs beside
    a test suite)."""

    async def late_end() -> AsyncIterator[bytes]:
        async for frame in frames(5):
            yield frame
        await asyncio.Event().wait()  # the upstream's end, never here
        yield b""

    client = Client(leave_after=6)
    call = await asyncio.create_task(relay(client, late_end()))
    await settle()
    assert call.relayed_all and call.error is None and call.status != 499


@pytest.mark.parametrize(
    ("fail", "end", "error"),
    [
        (True, True, "stream:InternalError"),  # the upstream connection breaks
        (False, False, "stream:StreamIncomplete"),  # the stream stops without its end
    ],
)
async def test_streams_cut_upstream_leave_no_cycles(
    no_gc: None, fail: bool, end: bool, error: str
) -> None:
    # The first failure fills caches (the error tree's, the logger's): not per stream.
    await asyncio.create_task(relay(Client(), frames(2, fail, end)))
    await settle()
    gc.collect()
    for _ in range(50):
        client = Client()
        call = await asyncio.create_task(relay(client, frames(2, fail, end)))
        assert call.error == error
        assert b"error" in client.sent[-1]["body"]  # the in-stream error frame
    await settle()
    assert gc.collect() == 0


async def test_on_the_gateways_server_the_exchange_calls_the_watch() -> None:
    """No watcher task per stream: the exchange behind ``receive`` cancels the relay when its
    connection is lost, and forgets the watch when the stream ends."""
    exchange, transport, _ = cycle()
    exchange.end()  # the request's body has been read
    call = make_call("openai", {}, stream=True)

    async def relay_on_exchange(chunks: AsyncIterator[bytes]) -> None:
        task = asyncio.current_task()
        await send_stream(exchange.send, exchange.receive, call, task, 200, [], chunks, DONE)

    relayed = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:  # two frames, then an upstream that waits
        yield b'data: {"i": 0}\n\n'
        yield b'data: {"i": 1}\n\n'
        relayed.set()
        await asyncio.Event().wait()
        yield DONE

    before = asyncio.all_tasks()
    running = asyncio.create_task(relay_on_exchange(stalled()))
    await relayed.wait()
    assert transport.writes and exchange.on_lost is not None
    assert asyncio.all_tasks() - before == {running}  # no watcher task
    exchange.lost()
    await running
    assert (call.status, call.error) == (499, "client_disconnected")
    assert exchange.on_lost is None

    exchange, transport, _ = cycle()
    exchange.end()
    call = make_call("openai", {}, stream=True)
    await asyncio.create_task(relay_on_exchange(frames(3)))
    assert call.relayed_all and exchange.on_lost is None and exchange.response_complete

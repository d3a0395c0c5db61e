"""``turnout.mcp.latest.Latest``: one send at a time, the newest few waiting."""

from __future__ import annotations

import asyncio

from turnout.mcp.latest import Latest


async def test_a_reader_gets_everything_in_order() -> None:
    got: list[int] = []

    async def send(value: int) -> None:
        got.append(value)

    relay = Latest(send, keep=4)
    for i in range(10):
        relay.offer(i)
        await asyncio.sleep(0)  # the reader keeps up
    await relay.close(within=5)
    assert got == list(range(10))


async def test_a_stalled_reader_holds_only_the_newest() -> None:
    release = asyncio.Event()
    got: list[int] = []

    async def send(value: int) -> None:
        await release.wait()
        got.append(value)

    relay = Latest(send, keep=2)
    relay.offer(0)
    await asyncio.sleep(0)  # 0 is in flight
    for i in range(1, 10_000):
        relay.offer(i)
    release.set()
    await relay.close(within=5)
    assert got == [0, 9_998, 9_999]


async def test_a_failed_send_marks_the_consumer_gone() -> None:
    async def send(value: int) -> None:
        raise ConnectionError

    relay = Latest(send)
    relay.offer(1)
    await relay.close(within=5)
    assert relay.failed

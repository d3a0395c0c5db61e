"""The extra read of the key store a key found nowhere makes (turnout.auth.catchup): shared by
every caller waiting at once, always begun after the caller arrived, bounded in rate, and
never an error of its own."""

from __future__ import annotations

import asyncio

from turnout.auth.catchup import CatchUp


class Feed:
    """A change feed whose reads are counted and held until released."""

    def __init__(self) -> None:
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()
        self.began = asyncio.Event()
        self.fail = False

    async def read(self) -> None:
        self.reads += 1
        self.began.set()
        await self.release.wait()
        if self.fail:
            raise ConnectionError("the store is down")


async def test_callers_waiting_at_once_share_one_read() -> None:
    feed = Feed()
    catch_up = CatchUp(feed.read, gap=0)
    await asyncio.gather(*(catch_up() for _ in range(50)))
    assert feed.reads == 1


async def test_a_caller_arriving_during_a_read_waits_for_a_later_one() -> None:
    """A read already under way may have missed the key the late caller presents."""
    feed = Feed()
    feed.release.clear()
    catch_up = CatchUp(feed.read, gap=0)
    first = asyncio.ensure_future(catch_up())
    await feed.began.wait()
    late = asyncio.ensure_future(catch_up())
    await asyncio.sleep(0)
    feed.release.set()
    await first
    await late
    assert feed.reads == 2


async def test_reads_are_spaced_by_the_gap_and_callers_wait_at_most_their_patience() -> None:
    feed = Feed()
    catch_up = CatchUp(feed.read, gap=3600, patience=0.01)
    await catch_up()
    for _ in range(20):  # a key-guessing client: its reads wait for the gap, it does not
        await catch_up()
    assert feed.reads == 1


async def test_a_failing_read_is_the_refusal_it_would_have_been() -> None:
    feed = Feed()
    feed.fail = True
    catch_up = CatchUp(feed.read, gap=0)
    await catch_up()  # no exception: the caller's 401 stands
    await catch_up()
    assert feed.reads == 2


async def test_a_caller_that_leaves_does_not_cancel_the_others_read() -> None:
    feed = Feed()
    feed.release.clear()
    catch_up = CatchUp(feed.read, gap=0)
    leaving = asyncio.ensure_future(catch_up())
    staying = asyncio.ensure_future(catch_up())
    await feed.began.wait()
    leaving.cancel()
    feed.release.set()
    await staying
    assert feed.reads == 1 and not staying.cancelled()

"""The write-behind in front of the database's conversation store (conversations/writer.py):
reads see pending writes, the queue is bounded, a refused write is kept and retried, a delete
during a write is not undone by it."""

from __future__ import annotations

import asyncio
import time

from turnout.conversations.store import MemoryConversationStore, Record
from turnout.conversations.writer import WriteBehind


def record(rid: str, owner: str = "key-a", ttl: float = 60.0, size: int = 10) -> Record:
    return Record(rid, owner, time.time() + ttl, items=b"[" + b" " * size + b"]")


class Gated(MemoryConversationStore):
    """A store whose writes wait for the test (a slow database), or fail (a down one)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.down = False
        self.wrote = asyncio.Event()

    async def put(self, record: Record) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.down:
            raise ConnectionError("database down")
        await super().put(record)
        self.wrote.set()


async def test_a_record_is_read_back_before_it_is_written() -> None:
    store = Gated()
    writer = WriteBehind(store)
    await writer.put(record("resp_1"))
    assert await store.get("resp_1", "key-a") is None
    assert await writer.get("resp_1", "key-a") is not None
    assert await writer.get("resp_1", "key-b") is None  # still the owner's only
    assert await writer.flush() is True
    assert await store.get("resp_1", "key-a") is not None and writer.pending == 0


async def test_past_its_bounds_a_new_record_is_dropped_and_counted() -> None:
    writer = WriteBehind(MemoryConversationStore(), capacity=2)
    for i in range(3):
        await writer.put(record(f"resp_{i}"))
    assert writer.dropped == 1 and writer.pending == 2
    assert await writer.get("resp_2", "key-a") is None
    await writer.put(record("resp_0"))  # a replacement takes no new room
    assert writer.dropped == 1
    small = WriteBehind(MemoryConversationStore(), max_bytes=1000)
    await small.put(record("resp_a", size=600))
    await small.put(record("resp_b", size=600))
    assert small.dropped == 1


async def test_one_key_filling_the_queue_loses_its_own_records_not_anothers() -> None:
    """Before: with the database slow or down, the first key to fill the queue kept it, and
    every other key's new records were dropped (their responses could not be continued)."""
    writer = WriteBehind(MemoryConversationStore(), capacity=10)
    for i in range(10):
        await writer.put(record(f"flood_{i}", owner="mallory"))
    await writer.put(record("alice_1", owner="alice"))
    assert await writer.get("alice_1", "alice") is not None
    assert await writer.get("flood_0", "mallory") is None  # the flooder's oldest went
    assert writer.pending == 10 and writer.dropped == 1
    await writer.put(record("flood_10", owner="mallory"))  # it holds the most: its new one goes
    assert await writer.get("flood_10", "mallory") is None
    assert await writer.get("alice_1", "alice") is not None and writer.dropped == 2
    by_bytes = WriteBehind(MemoryConversationStore(), max_bytes=4000)
    for i in range(3):
        await by_bytes.put(record(f"big_{i}", owner="mallory", size=900))
    await by_bytes.put(record("small", owner="alice", size=500))
    assert await by_bytes.get("small", "alice") is not None
    assert await by_bytes.get("big_0", "mallory") is None
    await by_bytes.put(record("huge", owner="bob", size=5000))  # alone past the bound
    assert await by_bytes.get("small", "alice") is not None and by_bytes.pending == 3


async def test_a_refused_write_stays_readable_and_is_retried() -> None:
    store = Gated()
    store.down = True
    writer = WriteBehind(store)
    await writer.put(record("resp_1"))
    assert await writer.flush() is False
    assert writer.failed == 1 and writer.pending == 1
    assert await writer.get("resp_1", "key-a") is not None
    store.down = False
    assert await writer.flush() is True
    assert await store.get("resp_1", "key-a") is not None


async def test_a_delete_during_the_write_is_not_undone() -> None:
    store = Gated()
    store.gate.clear()
    writer = WriteBehind(store)
    await writer.put(record("resp_1"))
    flushing = asyncio.create_task(writer.flush())
    await store.entered.wait()  # the write is under way
    assert await writer.delete("resp_1", "key-a") is True
    store.gate.set()
    assert await flushing is True
    assert await store.get("resp_1", "key-a") is None
    assert await writer.get("resp_1", "key-a") is None


async def test_the_task_writes_without_being_asked_and_stop_flushes() -> None:
    store = Gated()
    writer = WriteBehind(store, interval=0.01)
    writer.start()
    await writer.put(record("resp_1"))
    await asyncio.wait_for(store.wrote.wait(), 5)
    assert await store.get("resp_1", "key-a") is not None
    await writer.put(record("resp_2"))
    await writer.stop()
    assert await store.get("resp_2", "key-a") is not None

"""The conversation store: owned by a key, expiring, bounded."""

from __future__ import annotations

import time

from turnout.conversations.store import MemoryConversationStore, Record


def record(rid: str, owner: str = "key-a", ttl: float = 60.0, size: int = 10) -> Record:
    return Record(rid, owner, time.time() + ttl, items=b"[" + b" " * size + b"]")


async def test_another_key_cannot_read_or_delete_a_record() -> None:
    store = MemoryConversationStore()
    await store.put(record("resp_1"))
    assert await store.get("resp_1", "key-b") is None
    assert await store.delete("resp_1", "key-b") is False
    assert await store.get("resp_1", "key-a") is not None
    assert await store.delete("resp_1", "key-a") is True
    assert await store.get("resp_1", "key-a") is None


async def test_an_expired_record_is_gone() -> None:
    store = MemoryConversationStore()
    await store.put(record("resp_1", ttl=-1))
    assert await store.get("resp_1", "key-a") is None


async def test_the_oldest_records_leave_past_the_caps() -> None:
    store = MemoryConversationStore(max_entries=2)
    for i in range(3):
        await store.put(record(f"resp_{i}"))
    assert await store.get("resp_0", "key-a") is None
    assert await store.get("resp_2", "key-a") is not None
    small = MemoryConversationStore(max_bytes=2000)
    for i in range(3):
        await small.put(record(f"resp_{i}", size=900))
    assert [await small.get(f"resp_{i}", "key-a") is not None for i in range(3)] == [
        False,
        False,
        True,
    ]


async def test_past_the_caps_the_owner_holding_the_most_loses_its_oldest() -> None:
    """One key storing in a loop pushes out its own records, by count and by bytes."""
    store = MemoryConversationStore(max_entries=4, max_bytes=10_000)
    await store.put(record("a-1", owner="key-a"))
    for i in range(20):
        await store.put(record(f"m-{i}", owner="key-m"))
    assert await store.get("a-1", "key-a") is not None
    assert await store.get("m-19", "key-m") is not None and await store.get("m-0", "key-m") is None
    await store.put(record("big-1", owner="key-big", size=4000))
    await store.put(record("big-2", owner="key-big", size=4000))
    await store.put(record("big-3", owner="key-big", size=4000))  # past the bytes: its own go
    assert await store.get("a-1", "key-a") is not None
    assert await store.get("big-3", "key-big") is not None
    assert await store.get("big-1", "key-big") is None

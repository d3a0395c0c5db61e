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

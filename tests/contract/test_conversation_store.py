"""The Responses conversation store on every backend: owned by a key, expiring, replaced."""

from __future__ import annotations

import time
from typing import Any

from turnout.conversations.store import ConversationStore, MemoryConversationStore, Record
from turnout.storage.sql.conversations import SqlConversationStore


def store_of(backend: dict[str, Any]) -> ConversationStore:
    engine = backend.get("engine")
    return MemoryConversationStore() if engine is None else SqlConversationStore(engine, 2)


async def test_records_are_kept_per_key_until_they_expire(backend: dict[str, Any]) -> None:
    store = store_of(backend)
    rid = f"resp_{backend['name']}_{time.time_ns()}"
    items = Record(rid, "key-a", time.time() + 60, items=b"[1]", response=b'{"id":1}')
    await store.put(items)
    assert await store.get(rid, "key-a") == items
    assert await store.get(rid, "key-b") is None
    assert await store.delete(rid, "key-b") is False
    pin = Record(rid, "key-a", time.time() + 60, deployment="east/up", key_id="fp01")
    await store.put(pin)  # replaced whole
    assert await store.get(rid, "key-a") == pin
    await store.put(Record(rid + "x", "key-a", time.time() - 1, items=b"[]"))
    assert await store.get(rid + "x", "key-a") is None
    assert await store.delete(rid, "key-a") is True
    assert await store.get(rid, "key-a") is None


async def test_the_write_behind_reads_its_writes_then_lands_them(backend: dict[str, Any]) -> None:
    """Over each backend: a record is readable at once, and in the backend after a flush
    (a batch through ``put_many`` where the backend has it, replacing older rows whole)."""
    from turnout.conversations.writer import WriteBehind

    store = store_of(backend)
    writer = WriteBehind(store)
    base = f"resp_wb_{backend['name']}_{time.time_ns()}"
    old = Record(base + "0", "key-a", time.time() + 60, items=b"[0]")
    await store.put(old)
    records = [
        Record(f"{base}{i}", "key-a", time.time() + 60, items=b"[%d]" % (i + 10)) for i in range(3)
    ]
    for record in records:
        await writer.put(record)
    assert await store.get(base + "1", "key-a") is None  # not written yet...
    assert await writer.get(base + "1", "key-a") == records[1]  # ...but read back
    assert await writer.get(base + "1", "key-b") is None
    assert await writer.flush() is True
    assert writer.pending == 0 and writer.written == 3
    for record in records:
        assert await store.get(record.id, "key-a") == record
    assert await writer.delete(base + "2", "key-a") is True
    assert await writer.get(base + "2", "key-a") is None

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

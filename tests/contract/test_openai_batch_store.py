"""The OpenAI batch object store on every backend: files and batches owned by a key, told
apart by kind, listed newest first with a cursor, counted per key and kind, updated (the
accounted count never lowered), expiring."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from turnout.openai_batches.sql import SqlObjectStore
from turnout.openai_batches.store import (
    FILES,
    TTL,
    Kind,
    MemoryObjectStore,
    ObjectRecord,
    ObjectStore,
)


def store_of(backend: dict[str, Any]) -> ObjectStore:
    engine = backend.get("engine")
    return MemoryObjectStore() if engine is None else SqlObjectStore(engine, 2)


def record(oid: str, owner: str, created: float, kind: Kind = "input") -> ObjectRecord:
    return ObjectRecord(
        oid, kind, owner, "oa", "fp01", b'{"up":"pub"}', "/v1/chat/completions", created, b"{}"
    )


async def test_objects_are_kept_per_key_and_kind(backend: dict[str, Any]) -> None:
    store = store_of(backend)
    base = f"file-{backend['name']}-{time.time_ns()}-"
    owner, other = base + "key-a", base + "key-b"
    now = time.time()
    mine = [record(f"{base}{i}", owner, now - 10 + i) for i in range(4)]
    for r in mine:
        await store.put(r)
    batch = record(base + "batch", owner, now - 1, "batch")
    output = record(base + "out", owner, now - 0.5, "output")
    await store.put(batch)
    await store.put(output)
    await store.put(record(base + "theirs", other, now))
    await store.put(record(base + "old", owner, now - TTL - 1))  # expired
    assert await store.get(mine[0].id, FILES, owner) == mine[0]
    assert await store.get(mine[0].id, FILES, other) is None
    assert await store.get(mine[0].id, FILES, None) == mine[0]  # the master's lookup
    assert await store.get(mine[0].id, ("batch",), owner) is None  # a file is no batch
    assert await store.get(batch.id, FILES, owner) is None
    assert await store.get(batch.id, ("batch",), owner) == batch
    assert await store.get(base + "old", FILES, owner) is None
    assert await store.count(owner, "input") == 4 and await store.count(other, "input") == 1
    assert await store.count(owner, "batch") == 1
    page = await store.page(owner, FILES, None, 3)
    assert [r.id for r in page] == [output.id, mine[3].id, mine[2].id]
    after = await store.page(owner, ("input",), page[-1], 10)
    assert [r.id for r in after] == [mine[1].id, mine[0].id]
    oldest = await store.page(owner, FILES, None, 2, ascending=True)
    assert [r.id for r in oldest] == [mine[0].id, mine[1].id]
    later = await store.page(owner, FILES, oldest[-1], 10, ascending=True)
    assert [r.id for r in later] == [mine[2].id, mine[3].id, output.id]
    everyone = await store.page(None, ("batch",), None, 1000)  # the master's listing
    assert batch.id in [r.id for r in everyone] and mine[1].id not in [r.id for r in everyone]
    await store.update(mine[0].id, b'{"id":"y"}', 5)
    await store.update(mine[0].id, None, 3)  # never lowered
    got = await store.get(mine[0].id, FILES, owner)
    assert got is not None and got.object == b'{"id":"y"}' and got.accounted == 5
    await store.delete(mine[0].id)
    assert await store.get(mine[0].id, FILES, owner) is None


async def test_an_output_files_counted_lines_are_claimed_by_one_read(
    backend: dict[str, Any],
) -> None:
    """Compare-and-set, as for Message Batches: of reads claiming the same lines at once,
    one wins; the others find the mark it set."""
    store = store_of(backend)
    oid = f"file-{backend['name']}-{time.time_ns()}-claim"
    await store.put(record(oid, "owner", time.time(), "output"))
    found = await asyncio.gather(*(store.claim(oid, 0, 3) for _ in range(8)))
    assert sorted(found) == [0] + [3] * 7
    assert await store.claim(oid, 3, 5) == 3
    assert await store.claim(oid, 3, 9) == 5
    got = await store.get(oid, ("output",), None)
    assert got is not None and got.accounted == 5
    assert await store.claim(f"{oid}-gone", 0, 4) == 0


async def test_objects_made_at_the_same_time_are_each_listed_once(
    backend: dict[str, Any],
) -> None:
    """The cursor is the creation time and then the id: objects of one instant are neither
    skipped nor repeated by a listing paged one at a time, either way."""
    store = store_of(backend)
    base = f"file-{backend['name']}-{time.time_ns()}-same-"
    owner, now = base + "key", time.time()
    made = [record(f"{base}{i}", owner, now) for i in range(3)]
    for r in made:
        await store.put(r)
    for ascending in (True, False):
        seen: list[str] = []
        cursor = None
        while page := await store.page(owner, FILES, cursor, 1, ascending):
            seen.append(page[0].id)
            cursor = page[0]
        ids = [r.id for r in made]
        assert seen == (ids if ascending else ids[::-1])

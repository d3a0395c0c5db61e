"""The Message Batch owner store on every backend: owned by a key, listed newest first with
cursors, counted per key, updated (the accounted count never lowered), expiring."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from turnout.batches.store import TTL, BatchRecord, BatchStore, MemoryBatchStore
from turnout.storage.sql.batches import SqlBatchStore


def store_of(backend: dict[str, Any]) -> BatchStore:
    engine = backend.get("engine")
    return MemoryBatchStore() if engine is None else SqlBatchStore(engine, 2)


def record(bid: str, owner: str, created: float) -> BatchRecord:
    return BatchRecord(bid, owner, "an", "fp01", b'{"up":"pub"}', created, b'{"id":"x"}')


async def test_batches_are_kept_per_key_listed_and_counted(backend: dict[str, Any]) -> None:
    store = store_of(backend)
    base = f"msgbatch_{backend['name']}_{time.time_ns()}_"
    owner, other = base + "key-a", base + "key-b"
    now = time.time()
    mine = [record(f"{base}{i}", owner, now - 10 + i) for i in range(4)]
    for r in mine:
        await store.put(r)
    await store.put(record(base + "theirs", other, now))
    await store.put(record(base + "old", owner, now - TTL - 1))  # expired
    assert await store.get(mine[0].id, owner) == mine[0]
    assert await store.get(mine[0].id, other) is None
    assert await store.get(mine[0].id, None) == mine[0]  # the master's lookup
    assert await store.get(base + "old", owner) is None
    assert await store.count(owner) == 4 and await store.count(other) == 1
    page = await store.page(owner, None, None, 2)
    assert [r.id for r in page] == [mine[3].id, mine[2].id]
    after = await store.page(owner, page[-1].created, None, 10)
    assert [r.id for r in after] == [mine[1].id, mine[0].id]
    before = await store.page(owner, None, mine[0].created, 2)
    assert [r.id for r in before] == [mine[2].id, mine[1].id]
    await store.update(mine[0].id, b'{"id":"y"}', 5)
    await store.update(mine[0].id, None, 3)  # never lowered
    got = await store.get(mine[0].id, owner)
    assert got is not None and got.batch == b'{"id":"y"}' and got.accounted == 5
    await store.delete(mine[0].id)
    assert await store.get(mine[0].id, owner) is None


async def test_the_counted_lines_mark_is_claimed_by_one_read(backend: dict[str, Any]) -> None:
    """Compare-and-set: of reads claiming the same lines at once, one wins; the others find
    the mark it set and claim only past it."""
    store = store_of(backend)
    bid = f"msgbatch_{backend['name']}_{time.time_ns()}_claim"
    await store.put(record(bid, "owner", time.time()))
    found = await asyncio.gather(*(store.claim(bid, 0, 3) for _ in range(8)))
    assert sorted(found) == [0] + [3] * 7  # one won (found its own mark), seven lost
    assert await store.claim(bid, 3, 5) == 3  # past the winner's mark: claimed
    assert await store.claim(bid, 3, 9) == 5  # stale: told the mark
    got = await store.get(bid, None)
    assert got is not None and got.accounted == 5
    assert await store.claim(f"{bid}_gone", 0, 4) == 0  # no record: the lines are the reader's

"""The same contract for both backends: memory, and Redis (the machine's, under a unique
prefix so parallel runs and other data are never touched)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.support.wait import until_async
from tests.unit.cache.redis_support import shared_redis
from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey
from turnout.cache.memory import MemoryStore
from turnout.cache.redis_store import RedisStore
from turnout.cache.store import CacheStore
from turnout.types import Usage

MB = 1024 * 1024


def entry(model: str = "m", text: bytes = b"x", stream: bool = False) -> Entry:
    if stream:
        return Entry("openai", model, True, frames=(b"data: a\n\n", text), stored_at=1.0)
    return Entry(
        "openai", model, False, body=b'{"a":"' + text + b'"}', stored_at=1.0, usage=Usage(1, 2)
    )


def key(model: str = "m") -> CacheKey:
    return CacheKey(model, uuid.uuid4().hex, True)


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CacheStore]:
    if request.param == "memory":
        s: CacheStore = MemoryStore(64 * MB, MB)
    else:
        url = shared_redis()
        s = RedisStore(
            url,
            prefix=f"turnout-test:{os.getpid()}:{uuid.uuid4().hex[:8]}:",
            timeout=0.5,
            retry_after=1.0,
            max_item_bytes=MB,
        )
    yield s
    await s.purge()
    await s.close()


async def test_get_put_roundtrip(store: CacheStore) -> None:
    k, e = key(), entry()
    assert await store.get(k) is None
    await store.put_many([(k, e, 60)])
    got = await store.get(k)
    assert got is not None and got.body == e.body and got.usage == Usage(1, 2)
    ks, es = key(), entry(stream=True, text=b"data: b\n\n")
    await store.put_many([(ks, es, 60)])
    got = await store.get(ks)
    assert got is not None and got.frames == es.frames and got.stream


async def test_entries_expire(store: CacheStore) -> None:
    k = key()
    await store.put_many([(k, entry(), 0.2)])
    assert await store.get(k) is not None

    async def expired() -> bool:  # its 0.2 s run out
        return await store.get(k) is None

    await until_async(expired)


async def test_items_over_the_size_bound_are_not_stored(store: CacheStore) -> None:
    k = key()
    await store.put_many([(k, entry(text=b"y" * (MB + 1)), 60)])
    assert await store.get(k) is None


async def test_purge_by_key_by_model_and_all(store: CacheStore) -> None:
    a1, a2, b1 = key("model/a:1"), key("model/a:1"), key("b*")
    await store.put_many(
        [(a1, entry("model/a:1"), 60), (a2, entry("model/a:1"), 60), (b1, entry("b*"), 60)]
    )
    assert (await store.usage()).entries == 3
    assert await store.purge(digest=a1.digest) == 1
    assert await store.get(a1) is None and await store.get(a2) is not None
    assert await store.purge(model="b") == 0  # no prefix or glob matching on model names
    assert await store.purge(model="model/a:1") == 1
    assert await store.get(b1) is not None
    assert await store.purge() == 1
    usage = await store.usage()
    assert (usage.entries, usage.bytes) == (0, 0)


async def test_usage_counts_entries_and_bytes(store: CacheStore) -> None:
    await store.put_many([(key(), entry(text=b"z" * 1000), 60) for _ in range(3)])
    usage = await store.usage()
    assert usage.entries == 3 and usage.bytes >= 3000 and usage.available

"""The in-memory backend: an LRU bounded by bytes, with TTLs on a clock we control."""

from __future__ import annotations

from turnout.cache.entry import OVERHEAD, Entry
from turnout.cache.keys import CacheKey
from turnout.cache.memory import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(size: int) -> Entry:
    return Entry("openai", "m", False, body=b"x" * (size - OVERHEAD))


def k(name: str) -> CacheKey:
    return CacheKey("m", name.ljust(32, "0"), True)


async def test_total_size_stays_under_the_bound_evicting_least_recently_used() -> None:
    store = MemoryStore(max_bytes=3000, max_item_bytes=10_000)
    for name in "abc":
        store.put(k(name), entry(1000), 1e9)
    assert store.bytes == 3000
    assert await store.get(k("a")) is not None  # "a" is now the most recently used
    store.put(k("d"), entry(1000), 1e9)
    assert store.bytes <= 3000 and store.evictions == 1
    assert await store.get(k("b")) is None  # the least recently used went first
    assert all([await store.get(k(n)) for n in "acd"])


async def test_one_large_entry_evicts_as_many_as_needed() -> None:
    store = MemoryStore(max_bytes=3000, max_item_bytes=10_000)
    for name in "abc":
        store.put(k(name), entry(1000), 1e9)
    store.put(k("big"), entry(2500), 1e9)
    assert store.bytes <= 3000 and store.evictions == 3
    assert (await store.usage()).entries == 1


async def test_entry_larger_than_the_whole_cache_is_refused() -> None:
    store = MemoryStore(max_bytes=3000, max_item_bytes=10_000)
    store.put(k("a"), entry(1000), 1e9)
    store.put(k("huge"), entry(5000), 1e9)
    assert await store.get(k("huge")) is None
    assert await store.get(k("a")) is not None  # nothing was evicted for it


async def test_replacing_a_key_does_not_leak_bytes() -> None:
    store = MemoryStore(max_bytes=10_000, max_item_bytes=10_000)
    for _ in range(5):
        store.put(k("a"), entry(1000), 1e9)
    assert store.bytes == 1000 and (await store.usage()).entries == 1


async def test_ttl_expiry_and_sweep() -> None:
    clock = Clock()
    store = MemoryStore(max_bytes=10_000, max_item_bytes=10_000, clock=clock)
    await store.put_many([(k("a"), entry(1000), 10), (k("b"), entry(1000), 100)])
    clock.now += 10
    assert await store.get(k("a")) is None and store.bytes == 1000
    clock.now += 90
    usage = await store.usage()  # the stats sweep expired entries
    assert (usage.entries, usage.bytes) == (0, 0)


def owned(name: str, owner: str) -> CacheKey:
    return CacheKey("m", name.ljust(32, "0"), True, owner)


async def test_one_key_flooding_the_cache_pushes_out_only_its_own_answers() -> None:
    """Before: the least recently used entries went first whoever stored them, so one key
    sending distinct cacheable requests in a loop emptied the cache of every other key."""
    store = MemoryStore(max_bytes=10_000, max_item_bytes=10_000)
    store.put(owned("alice", "key_alice"), entry(1000), 1e9)
    store.put(owned("bob", "key_bob"), entry(500), 1e9)
    for i in range(1000):
        store.put(owned(f"flood{i}", "key_mallory"), entry(1000), 1e9)
    assert await store.get(owned("alice", "key_alice")) is not None
    assert await store.get(owned("bob", "key_bob")) is not None
    assert store.bytes <= 10_000 and store.held("key_mallory") == 8
    assert await store.get(owned("flood999", "key_mallory")) is not None  # its newest stay
    assert await store.get(owned("flood0", "key_mallory")) is None


async def test_the_key_holding_the_most_bytes_loses_its_least_recently_used() -> None:
    store = MemoryStore(max_bytes=4000, max_item_bytes=10_000)
    store.put(owned("a1", "a"), entry(1000), 1e9)
    store.put(owned("a2", "a"), entry(1000), 1e9)
    store.put(owned("b1", "b"), entry(1500), 1e9)
    assert await store.get(owned("a1", "a")) is not None  # a1 is now a's most recently used
    store.put(owned("b2", "b"), entry(1000), 1e9)  # 4500: b holds the most, b1 goes
    assert await store.get(owned("b1", "b")) is None
    assert all([await store.get(owned(n, o)) for n, o in (("a2", "a"), ("b2", "b"), ("a1", "a"))])
    store.put(owned("c1", "c"), entry(1500), 1e9)  # 4500: a (2000) loses a2, not a1
    assert await store.get(owned("a2", "a")) is None
    assert await store.get(owned("a1", "a")) is not None
    assert store.bytes == 3500 and store.evictions == 2

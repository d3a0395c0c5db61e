"""In-process LRU cache bounded by bytes, shared fairly between callers: the embedded default.

Entries are kept decoded (a hit is a dict lookup, no parsing). Each counts against the caller
that stored it (its gateway key, :attr:`~turnout.cache.keys.CacheKey.owner`), and when storing
takes the total past ``max_bytes`` the caller holding the most bytes loses its least recently
used entries (:mod:`turnout.fairshare`) until the total is under the bound again. One key
sending many distinct cacheable requests therefore pushes out only its own answers, once it
holds more than any other key, never the others' (before, the least recently used entries went
first whoever held them, and a flood emptied the cache of every other tenant). With one caller
(no authentication, one key) this is the plain LRU. Every entry is charged at least
:data:`~turnout.cache.entry.OVERHEAD` bytes, so the byte bound bounds the count too.

Expired entries are dropped when they are looked up and swept when the stats are read; until
then the byte bound still holds, because they count against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey
from turnout.cache.store import StoreUsage
from turnout.fairshare import Shares


class MemoryStore:
    name = "memory"

    def __init__(
        self,
        max_bytes: int,
        max_item_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes
        self._clock = clock
        # digest -> (entry, expires at, owner); the digest already covers model and namespace
        self._items: dict[str, tuple[Entry, float, str]] = {}
        # who stored which entries, least recently used first, and their sizes
        self._shares: Shares[str] = Shares(sized=True)
        self.evictions = 0

    @property
    def bytes(self) -> int:
        return self._shares.bytes

    def held(self, owner: str) -> int:
        """How many entries ``owner`` stored (tests, and the curious)."""
        return self._shares.held(owner)

    async def get(self, key: CacheKey) -> Entry | None:
        item = self._items.get(key.digest)
        if item is None:
            return None
        if item[1] <= self._clock():
            self._drop(key.digest)
            return None
        self._shares.touch(key.digest, item[2])
        return item[0]

    async def put_many(self, items: list[tuple[CacheKey, Entry, float]]) -> None:
        now = self._clock()
        for key, entry, ttl in items:
            self.put(key, entry, now + ttl)

    def put(self, key: CacheKey, entry: Entry, expires: float) -> None:
        size = entry.size()
        if entry.payload_size > self.max_item_bytes or size > self.max_bytes:
            return
        self._drop(key.digest)
        self._items[key.digest] = (entry, expires, key.owner)
        shares = self._shares
        shares.add(key.digest, key.owner, size)
        while shares.bytes > self.max_bytes:
            self._drop(shares.victim(by_bytes=True)[0])
            self.evictions += 1

    def _drop(self, digest: str) -> None:
        item = self._items.pop(digest, None)
        if item is not None:
            self._shares.remove(digest, item[2])

    async def purge(self, model: str | None = None, digest: str | None = None) -> int:
        if digest is not None:
            item = self._items.get(digest)
            if item is None or (model is not None and item[0].model != model):
                return 0
            self._drop(digest)
            return 1
        if model is None:
            count = len(self._items)
            self._items.clear()
            self._shares.clear()
            return count
        doomed = [d for d, (entry, _, _) in self._items.items() if entry.model == model]
        for d in doomed:
            self._drop(d)
        return len(doomed)

    async def usage(self) -> StoreUsage:
        now = self._clock()
        for digest in [d for d, (_, expires, _) in self._items.items() if expires <= now]:
            self._drop(digest)
        return StoreUsage(len(self._items), self.bytes, self.evictions)

    async def close(self) -> None:
        self._items.clear()
        self._shares.clear()

"""In-process LRU cache bounded by bytes: the embedded default.

Entries are kept decoded (a hit is a dict lookup, no parsing) in an ``OrderedDict`` used as an
LRU list: a hit moves its entry to the end, and storing evicts from the front until the total
size is under ``max_bytes``. Expired entries are dropped when they are looked up and swept when
the stats are read; until then the byte bound still holds, because they count against it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey
from turnout.cache.store import StoreUsage


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
        # digest -> (entry, expires at, size); the digest already covers model and namespace
        self._items: OrderedDict[str, tuple[Entry, float, int]] = OrderedDict()
        self.bytes = 0
        self.evictions = 0

    async def get(self, key: CacheKey) -> Entry | None:
        item = self._items.get(key.digest)
        if item is None:
            return None
        if item[1] <= self._clock():
            self._drop(key.digest)
            return None
        self._items.move_to_end(key.digest)
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
        self._items[key.digest] = (entry, expires, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, _, evicted) = self._items.popitem(last=False)
            self.bytes -= evicted
            self.evictions += 1

    def _drop(self, digest: str) -> None:
        item = self._items.pop(digest, None)
        if item is not None:
            self.bytes -= item[2]

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
            self.bytes = 0
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
        self.bytes = 0

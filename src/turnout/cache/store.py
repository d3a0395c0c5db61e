"""The cache's storage port: what the memory and Redis backends both provide.

Kept to five calls so a backend is a page of code and both pass the same contract tests
(``tests/unit/cache/test_store_contract.py``). A backend that cannot answer raises
:class:`StoreUnavailable` at once (the step then serves the request uncached); it never makes a
request wait longer than its own short timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey


class StoreUnavailable(Exception):
    """The backend cannot be reached right now; the request goes on without the cache."""


@dataclass(slots=True)
class StoreUsage:
    entries: int
    bytes: int
    evictions: int | None = None  # the memory backend counts them; Redis evicts on its own
    available: bool = True
    failures: int | None = None  # calls to a remote backend that failed (each opens its circuit)


class CacheStore(Protocol):
    name: str

    async def get(self, key: CacheKey) -> Entry | None:
        """The live entry under ``key``, None if there is none (or it expired)."""
        ...

    async def put_many(self, items: list[tuple[CacheKey, Entry, float]]) -> None:
        """Store ``(key, entry, ttl seconds)`` triples; entries over the item bound are
        skipped."""
        ...

    async def purge(self, model: str | None = None, digest: str | None = None) -> int:
        """Delete everything, one model's entries, or one key; returns how many."""
        ...

    async def usage(self) -> StoreUsage: ...

    async def close(self) -> None: ...

"""Response caching: exact-match answers, streams included, in memory or on Redis.

See docs/caching.md. The pieces: :mod:`keys` (what a key covers; what decides an answer is
each protocol's, ``protocols/<name>/cache.py``), :mod:`policy` (which models, which request
headers), :mod:`service` (the pipeline step and the store worker), :mod:`record` and
:mod:`replay` (both directions of the wire), :mod:`convert` (stream <-> JSON through the
protocol codecs), and the storage port
:mod:`store` with its :mod:`memory` and :mod:`redis_store` backends (the latter imported
only when configured: redis-py is heavy, docs/measurements.md#memory).
"""

from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey, make_key, namespace
from turnout.cache.memory import MemoryStore
from turnout.cache.service import CacheService, build_store
from turnout.cache.store import CacheStore, StoreUnavailable, StoreUsage

__all__ = [
    "CacheKey",
    "CacheService",
    "CacheStore",
    "Entry",
    "MemoryStore",
    "StoreUnavailable",
    "StoreUsage",
    "build_store",
    "make_key",
    "namespace",
]

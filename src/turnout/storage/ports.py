"""The storage ports: small protocols each backend implements, checked by ``tests/contract``.

``LogStore`` is the request log (the writer inserts, the admin API and CLI read, the
maintenance task prunes); ``HealthStore`` is health's own port
(:mod:`turnout.health.store`), re-exported so every port is listed in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from turnout.health.store import HealthStore
from turnout.storage.query import LogPage, LogQuery, UsageGroup, UsageQuery
from turnout.storage.rows import Row
from turnout.storage.stats import HistogramPoint, SeriesPoint, SeriesQuery


class LogStore(Protocol):
    async def insert(self, rows: list[Row]) -> None:
        """Insert fresh rows as fast as the backend can (rows never seen before)."""
        ...

    async def insert_again(self, rows: list[Row]) -> int:
        """Insert rows that may already be stored (a replay); duplicates by (ts, id) are
        skipped. Returns how many were new."""
        ...

    async def usage(self, query: UsageQuery) -> list[UsageGroup]: ...

    async def logs(self, query: LogQuery) -> LogPage: ...

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]:
        """Summed measures per (bucket, group) from a rollup table (turnout.storage.stats)."""
        ...

    async def histogram(self, start: int, end: int, step: int) -> list[HistogramPoint]:
        """Latency and time-to-first-token bin counts per bucket."""
        ...

    async def prune(self, before: datetime, batch: int) -> int:
        """Delete rows older than ``before`` in batches of ``batch``; returns rows deleted."""
        ...

    async def count(self) -> int: ...

    async def ping(self) -> None:
        """Raise unless the backend answers."""
        ...

    async def close(self) -> None: ...


__all__ = ["HealthStore", "LogStore"]

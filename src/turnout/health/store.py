"""The port through which key and deployment health leaves the process.

The request path never waits on it: the board lives in memory, a background task saves what
changed and, with a shared backend, loads what other replicas changed. Records are plain
JSON-able dicts (``kind``, ``id``, ``state``, ``reason``, ``until`` as wall-clock epoch
seconds, ...), so a SQL row or a Redis hash can hold one as is. This module ships the
in-memory backend; the storage layer adds persistent and shared ones behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Record = dict[str, Any]


class HealthStore(Protocol):
    async def load(self) -> list[Record]:
        """Every saved record (at startup, and periodically for shared backends)."""
        ...

    async def save(self, records: Sequence[Record]) -> None:
        """Upsert records by (``kind``, ``id``)."""
        ...

    async def close(self) -> None: ...


class MemoryHealthStore:
    """Keeps records for the life of the process: enough for one process, lost on restart."""

    shared = False

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], Record] = {}

    async def load(self) -> list[Record]:
        return [dict(r) for r in self._records.values()]

    async def save(self, records: Sequence[Record]) -> None:
        for record in records:
            self._records[(str(record["kind"]), str(record["id"]))] = dict(record)

    async def close(self) -> None:
        return None

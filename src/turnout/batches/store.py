"""Which gateway key owns which Message Batch, and where the batch lives.

A record is written when a batch is created through the gateway: the batch id (the
upstream's), the owner (the creating gateway key's id, "" on an open gateway), the provider
and the key fingerprint that hold it (every later request goes to them), the public model
names by upstream name (the results' usage is accounted under the public name), the batch
object as last seen (a listing falls back to it) and how many result lines were accounted.
That count is claimed, never just written (:meth:`BatchStore.claim`): a compare-and-set, so
that two reads at once, in one process or on replicas sharing PostgreSQL, never count the
same line twice.
Records expire (:data:`TTL`, as the upstream's results do) and each owner holds at most
``storage.batches_per_key`` of them: past it a creation is refused until the key deletes some.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol

TTL = 30 * 86_400.0  # Anthropic keeps results 29 days


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    owner: str
    provider: str
    key_id: str
    models: bytes  # JSON object: upstream model name -> public model name
    created: float
    batch: bytes  # the batch object as the client last got it
    accounted: int = 0  # result lines whose usage was counted

    @property
    def expires(self) -> float:
        return self.created + TTL


class BatchStore(Protocol):
    async def get(self, batch_id: str, owner: str | None) -> BatchRecord | None:
        """``owner`` None: whoever owns it (the master key)."""
        ...

    async def count(self, owner: str) -> int: ...
    async def put(self, record: BatchRecord) -> None: ...
    async def page(
        self, owner: str | None, after: float | None, before: float | None, limit: int
    ) -> list[BatchRecord]:
        """Newest first: those created before ``after`` (the cursor's time), or the newest
        ``limit`` created after ``before``."""
        ...

    async def update(self, batch_id: str, batch: bytes | None, accounted: int | None) -> None:
        """A fresh batch object, or a higher accounted count (never lowered)."""
        ...

    async def claim(self, batch_id: str, seen: int, lines: int) -> int:
        """Move the counted-lines mark from ``seen`` to ``lines`` if it still is ``seen``
        (compare-and-set); the mark found: ``seen`` when this read won the lines between,
        else the mark another read set meanwhile. A record gone (deleted while its results
        were read) claims: those lines were relayed, and deleting must not make them free."""
        ...

    async def delete(self, batch_id: str) -> None: ...


class MemoryBatchStore:
    """In-process (``storage.url: memory://`` or storage off): bounded by the per-key cap
    times the keys (one owner, "", on an open gateway)."""

    def __init__(self) -> None:
        self._records: dict[str, BatchRecord] = {}

    def _live(self, record: BatchRecord | None) -> BatchRecord | None:
        if record is not None and record.expires <= time.time():
            self._records.pop(record.id, None)
            return None
        return record

    async def get(self, batch_id: str, owner: str | None) -> BatchRecord | None:
        record = self._live(self._records.get(batch_id))
        if record is None or (owner is not None and record.owner != owner):
            return None
        return record

    async def count(self, owner: str) -> int:
        return sum(1 for r in list(self._records.values()) if r.owner == owner and self._live(r))

    async def put(self, record: BatchRecord) -> None:
        self._records[record.id] = record

    async def page(
        self, owner: str | None, after: float | None, before: float | None, limit: int
    ) -> list[BatchRecord]:
        mine = [
            r
            for r in list(self._records.values())
            if (owner is None or r.owner == owner) and self._live(r) is not None
        ]
        mine.sort(key=lambda r: r.created, reverse=True)
        if after is not None:
            return [r for r in mine if r.created < after][:limit]
        if before is not None:
            return [r for r in mine if r.created > before][-limit:]
        return mine[:limit]

    async def update(self, batch_id: str, batch: bytes | None, accounted: int | None) -> None:
        record = self._records.get(batch_id)
        if record is None:
            return
        if batch is not None:
            record = replace(record, batch=batch)
        if accounted is not None and accounted > record.accounted:
            record = replace(record, accounted=accounted)
        self._records[batch_id] = record

    async def claim(self, batch_id: str, seen: int, lines: int) -> int:
        record = self._records.get(batch_id)  # no await from here on: atomic in the process
        if record is None:
            return seen
        if record.accounted != seen:
            return record.accounted
        self._records[batch_id] = replace(record, accounted=lines)
        return seen

    async def delete(self, batch_id: str) -> None:
        self._records.pop(batch_id, None)

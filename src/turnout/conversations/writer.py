"""Conversation records written behind the request path, read back at once.

A stored Responses call used to wait for its database write. :class:`WriteBehind` sits in
front of the database's store (the same port, :class:`~turnout.conversations.store.
ConversationStore`): ``put`` only files the record in a bounded map of pending records and
returns; a task writes them in batches (``put_many``, one transaction, when the store has it)
every ``interval`` or as soon as a batch is full, like the request log's writer
(:mod:`turnout.storage.writer`). Reads look in the pending map first, so a follow-up naming a
response whose record is not written yet still finds it (read your writes, in this process).

Bounds and failures, each counted (``written``, ``dropped``, ``failed``) and logged:

- Past ``capacity`` records or ``max_bytes`` pending, a record is **dropped**: that response
  cannot be continued or retrieved (a follow-up gets ``previous_response_not_found``, as after
  expiry); the answer itself is unaffected. The one dropped is the oldest pending record of the
  key holding the most bytes (:mod:`turnout.fairshare`), or the new one when its own key holds
  the most: while the database is slow or down, one key storing responses in a loop loses its
  own records, not every other key's.
- A batch the database refuses stays pending (still readable) and is retried after a backoff;
  records that expire meanwhile are let go. At shutdown, what is pending is written within a
  time budget; the rest is lost (conversation state is a convenience with a TTL, not a log).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict

from turnout.conversations.store import ConversationStore, Record
from turnout.fairshare import Shares
from turnout.observability.slog import structlog

log = structlog.get_logger("turnout.conversations")
WRITE_TIMEOUT = 15.0
BACKOFF_MIN, BACKOFF_MAX = 0.5, 10.0


class WriteBehind:
    def __init__(
        self,
        store: ConversationStore,
        *,
        capacity: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        batch_size: int = 200,
        interval: float = 0.05,
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.interval = interval
        self._pending: OrderedDict[str, Record] = OrderedDict()  # oldest first
        self._bytes = 0
        self._shares: Shares[str] = Shares(sized=True)  # pending records by owner
        self._writing: set[str] = set()  # ids whose write is under way
        self._deleted: set[str] = set()  # of those, deleted meanwhile: delete after the write
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_MIN
        # counters (read by tests and the admin of the day; logged as they change)
        self.written = 0
        self.dropped = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- the port ----------------------------------------------------------------------------
    async def get(self, response_id: str, owner: str) -> Record | None:
        record = self._pending.get(response_id)
        if record is not None:
            if record.owner != owner or record.expires <= time.time():
                return None
            return record
        return await self.store.get(response_id, owner)

    async def put(self, record: Record) -> None:
        size = record.size()
        if record.id in self._pending:
            self._forget(record.id)
        if size > self.max_bytes:  # alone past the bound: it would push out all the others
            self._drop()
            return
        while len(self._pending) >= self.capacity or self._bytes + size > self.max_bytes:
            victim, owner = self._shares.victim(by_bytes=True) if self._pending else ("", "")
            if not self._pending or owner == record.owner:
                self._drop()  # the new record's own key holds the most: the new one goes
                return
            self._forget(victim)
            self._drop()
        self._pending[record.id] = record
        self._bytes += size
        self._shares.add(record.id, record.owner, size)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    def _drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            log.warning(
                "conversation record dropped: the write-behind queue is full",
                dropped=self.dropped,
                pending=len(self._pending),
            )

    async def delete(self, response_id: str, owner: str) -> bool:
        record = self._pending.get(response_id)
        removed = False
        if record is not None and record.owner == owner:
            self._forget(response_id)
            removed = True
        if response_id in self._writing:
            self._deleted.add(response_id)
        return await self.store.delete(response_id, owner) or removed

    # -- the task ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, budget: float = 5.0) -> None:
        """Write what is pending (within ``budget`` seconds), then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._retry_at = 0.0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget):
                while self._pending and await self.flush():
                    pass
        if self._pending:
            log.warning("conversation records not written at shutdown", count=len(self._pending))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                while self._pending and time.monotonic() >= self._retry_at:
                    if not await self.flush():
                        break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the writer must outlive any surprise
                log.error("conversation writer error", error=repr(exc)[:500])

    async def flush(self) -> bool:
        """Write one batch of the oldest pending records; False when the store refused it."""
        now = time.time()
        batch: list[Record] = []
        for rid in list(self._pending)[: self.batch_size]:
            record = self._pending[rid]
            if record.expires <= now:
                self._forget(rid)
            else:
                batch.append(record)
        if not batch:
            return True
        self._writing.update(r.id for r in batch)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                put_many = getattr(self.store, "put_many", None)
                if put_many is not None:
                    await put_many(batch)
                else:
                    for record in batch:
                        await self.store.put(record)
        except Exception as exc:
            self.failed += len(batch)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)
            log.error(
                "conversation records not written; kept pending, retried",
                count=len(batch),
                pending=len(self._pending),
                error=repr(exc)[:300],
            )
            return False
        finally:
            self._writing.difference_update(r.id for r in batch)
        self._backoff = BACKOFF_MIN
        self.written += len(batch)
        for record in batch:
            if self._pending.get(record.id) is record:  # not replaced meanwhile
                self._forget(record.id)
            if record.id in self._deleted:
                self._deleted.discard(record.id)
                await self.store.delete(record.id, record.owner)
        return True

    def _forget(self, response_id: str) -> None:
        old = self._pending.pop(response_id, None)
        if old is not None:
            self._bytes -= self._shares.remove(response_id, old.owner)

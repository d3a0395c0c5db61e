"""The request-log writer: a bounded queue in memory, batched inserts, a spool on disk.

Rows arrive from the log drain (never from a request) with :meth:`LogWriter.put_many`; a task
inserts them in batches. When an insert fails for any reason but the rows themselves, the
batch goes to the spool and the database is marked down; the writer then spools every batch
without waiting on it, probing again after a backoff. Once an insert or probe succeeds, the
spool is replayed a few chunks at a time between fresh batches. Memory is bounded by the
queue's capacity: rows beyond it go straight to the spool (one write per drain).

Nothing accepted is lost short of the spool filling up or the disk failing: a row is either
in the queue, in the database, or in a spool segment, and moves on only once the next place
has it. Duplicates are impossible in the database: a batch whose insert failed after it was
committed is replayed with "skip what exists" (see :mod:`turnout.storage.rows`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

from turnout.observability.slog import structlog
from turnout.storage.ports import LogStore
from turnout.storage.rows import Row
from turnout.storage.spool import Spool

log = structlog.get_logger("turnout.storage")
INSERT_TIMEOUT = 15.0
BACKOFF_MIN, BACKOFF_MAX = 0.5, 10.0


def is_row_error(exc: BaseException) -> bool:
    """Whether the rows themselves were refused (SQLSTATE classes 22 data, 23 integrity, or a
    value the driver cannot encode: asyncpg's and sqlite3's ``OverflowError`` for an integer
    past the column, raised before any SQL): retrying them later would fail again, so they are
    set aside instead of spooled. Taken for an outage, one such row spooled its batch and
    failed every replay: the request log stopped for every call."""
    for e in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        if e is None:
            continue
        if isinstance(e, OverflowError):
            return True
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(state, str) and state[:2] in ("22", "23"):
            return True
        if type(e).__name__ in ("IntegrityError", "DataError"):
            return True
    return False


class LogWriter:
    def __init__(
        self,
        store: LogStore,
        spool: Spool,
        *,
        capacity: int = 100_000,
        batch_size: int = 2000,
        interval: float = 0.2,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self._prepare = prepare
        self._prepared = prepare is None
        self._queue: deque[Row] = deque()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.up = True
        self._retry_at = 0.0
        self._backoff = BACKOFF_MIN
        self._replay_at = 0.0
        # counters, read by /metrics
        self.written = 0
        self.replayed = 0
        self.rejected = 0
        self.overflowed = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def put_many(self, rows: list[Row]) -> None:
        """Accept rows (from the log drain). Never blocks on the database."""
        room = self.capacity - len(self._queue)
        if room >= len(rows):
            self._queue.extend(rows)
        else:
            keep = max(room, 0)
            self._queue.extend(rows[:keep])
            spilled = rows[keep:]
            self.overflowed += len(spilled)
            self.spool.append(spilled)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, budget: float = 10.0) -> None:
        """Write or spool everything still queued, then seal the spool."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = time.monotonic() + budget
        while self._queue:
            if time.monotonic() >= deadline:
                self._spool(self._take(len(self._queue)))
                break
            await self._write(self._take(self.batch_size), final=True)
        self.spool.seal()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the writer must outlive any surprise
                log.error("request log writer error", error=repr(exc)[:500])

    async def step(self) -> None:
        # Only the rows queued now: rows finished while these are written wait for the next
        # turn (the interval, or a full batch). Looping until the queue is empty wrote a
        # stream of tiny batches under steady load, each paying a transaction and a
        # connection check-out (~25 µs of the event loop's time per request).
        todo = len(self._queue)
        while todo > 0:
            batch = self._take(min(todo, self.batch_size))
            todo -= len(batch)
            await self._write(batch)
        now = time.monotonic()
        if now >= self._replay_at:
            self._replay_at = now + 1.0
            if self.up or now >= self._retry_at:
                await self._replay()

    def _take(self, n: int) -> list[Row]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(n, len(queue)))]

    async def _write(self, batch: list[Row], final: bool = False) -> None:
        # While down, only a due retry touches the database; at shutdown none does (spooled
        # rows are replayed by the next start).
        if not self.up and (final or time.monotonic() < self._retry_at):
            self._spool(batch)
            return
        try:
            await self.ensure_prepared()
            async with asyncio.timeout(INSERT_TIMEOUT):
                await self.store.insert(batch)
        except Exception as exc:
            if is_row_error(exc):
                await self._one_by_one(batch)
                return
            self.mark_down(exc)
            self._spool(batch)
            return
        self._up()
        self.written += len(batch)

    async def _one_by_one(self, batch: list[Row]) -> None:
        """A batch the database refused: keep every row it accepts, set the others aside."""
        for row in batch:
            if not self.up:  # the database went away meanwhile: the rest waits in the spool
                self._spool([row])
                continue
            try:
                self.written += await self.store.insert_again([row])
            except Exception as exc:
                if not is_row_error(exc):
                    self.mark_down(exc)
                    self._spool([row])
                    continue
                self.rejected += 1
                log.error("request log row rejected", error=repr(exc)[:300], id=row[1])

    async def _replay(self) -> None:
        spool = self.spool
        if spool.writing:
            spool.seal()
        segments = spool.segments()
        if not segments:
            return
        try:
            await self.ensure_prepared()
            await self.store.ping()
        except Exception as exc:
            self.mark_down(exc)
            return
        self._up()
        for path in segments:
            with spool.claim(path) as mine:
                if not mine:
                    continue
                for rows in spool.read(path, self.batch_size):
                    try:
                        async with asyncio.timeout(INSERT_TIMEOUT):
                            self.replayed += await self.store.insert_again(rows)
                    except Exception as exc:
                        if is_row_error(exc):
                            await self._one_by_one(rows)
                            continue
                        self.mark_down(exc)
                        return  # the segment stays; replayed again later, duplicates skipped
                spool.remove(path)
                log.info("request log spool replayed", segment=path.name)
            # Segments are small (Spool.SEGMENT_BYTES): fresh rows wait one segment at most.
            while self._queue:
                await self._write(self._take(self.batch_size))

    async def ensure_prepared(self) -> None:
        if not self._prepared and self._prepare is not None:
            await self._prepare()
            self._prepared = True

    def _spool(self, rows: list[Row]) -> None:
        if self.spool.append(rows) < len(rows):
            log.error("request log spool full: rows dropped", rows=len(rows))

    def mark_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.up:
            log.error("database unreachable: spooling request rows", error=repr(exc)[:300])
            self._backoff = BACKOFF_MIN
        else:
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        self.up = False
        self._retry_at = now + self._backoff

    def _up(self) -> None:
        if not self.up:
            log.info("database reachable again: replaying spooled rows")
        self.up = True
        self._backoff = BACKOFF_MIN

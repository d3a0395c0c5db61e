"""The storage of one running gateway: opened in the lifespan, closed on shutdown.

Opening never fails because of the database: if it cannot be reached (or migrated) at start,
the gateway serves anyway, request rows are spooled, and the writer migrates and replays once
the database answers (docs/reliability.md row 14). A maintenance task keeps daily partitions
ahead (PostgreSQL) and removes rows past ``retention_days`` in small batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.config.schema import StorageConfig
from turnout.health.store import HealthStore
from turnout.observability.slog import structlog
from turnout.storage.backends import Stores, backend_for
from turnout.storage.ports import LogStore
from turnout.storage.spool import Spool
from turnout.storage.sql import partitions
from turnout.storage.sql.engine import database_url, display, is_postgres, migrate
from turnout.storage.writer import LogWriter

log = structlog.get_logger("turnout.storage")
STARTUP_TIMEOUT = 10.0
MAINTENANCE_FIRST, MAINTENANCE_EVERY = 5.0, 3600.0
PRUNE_BATCH = 5000


class Storage:
    def __init__(self, config: StorageConfig, url: str | None = None) -> None:
        self.config = config
        self.url = url or database_url(config)
        self.backend = backend_for(self.url)
        # Request log, health, gateway keys and provider credentials, all on one backend.
        self.stores: Stores = self.backend.open(self.url)
        self.engine: AsyncEngine | None = self.stores.engine
        self.logs: LogStore = self.stores.logs
        self.health: HealthStore = self.stores.health
        self.spool = Spool(config.spool_dir, int(config.spool_max_mb * 1024 * 1024))
        self.writer = LogWriter(
            self.logs,
            self.spool,
            capacity=config.queue_size,
            batch_size=config.batch_size,
            interval=config.flush_interval,
            prepare=self.prepare,
        )
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Migrate, and make today's partitions (what must exist before rows are written)."""
        if self.engine is None:
            return
        await migrate(self.engine)
        if is_postgres(self.engine):
            await partitions.ensure(self.engine, self.config.partitions_ahead)

    async def open(self) -> None:
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await self.writer.ensure_prepared()
        except Exception as exc:
            log.error(
                "database unavailable at start: serving anyway, spooling request rows",
                url=display(self.url),
                error=repr(exc)[:300],
            )
            self.writer.mark_down(exc)
        else:
            log.info("storage ready", url=display(self.url))
        self.writer.start()
        self._task = asyncio.get_running_loop().create_task(self._maintain_forever())

    async def _maintain_forever(self) -> None:
        await asyncio.sleep(MAINTENANCE_FIRST)
        while True:
            try:
                await self.maintain()
            except Exception as exc:  # a failed round is retried at the next
                log.warning("storage maintenance failed", error=repr(exc)[:300])
            await asyncio.sleep(MAINTENANCE_EVERY)

    async def maintain(self, now: datetime | None = None) -> int:
        """One round of partition upkeep and retention; returns rows pruned."""
        now = now or datetime.now(UTC)
        engine = self.engine
        if engine is not None and is_postgres(engine):
            await partitions.ensure(engine, self.config.partitions_ahead, now.date())
        if not self.config.retention_days:
            return 0
        cutoff = now - timedelta(days=self.config.retention_days)
        if engine is not None and is_postgres(engine):
            dropped = await partitions.drop_before(engine, cutoff)
            if dropped:
                log.info("request log partitions dropped", partitions=dropped)
        pruned = await self.logs.prune(cutoff, PRUNE_BATCH)
        if pruned:
            log.info("request log rows pruned", rows=pruned, before=cutoff.isoformat())
        return pruned

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.writer.stop()
        await self.logs.close()
        if self.engine is not None:
            await self.engine.dispose()

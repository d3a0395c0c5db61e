"""Message Batch ownership on SQL (see :mod:`turnout.batches.store`).

Expired rows are never returned and are removed every ``prune_every`` creations.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

from turnout.batches.store import TTL, BatchRecord
from turnout.storage.sql.tables import message_batches as t


def _record(r: Any) -> BatchRecord:
    return BatchRecord(
        r.id,
        r.owner,
        r.provider,
        r.key_id,
        r.models,
        r.created_at,
        r.batch,
        r.accounted,
    )


_S = TypeVar("_S", bound=Select[Any])


class SqlBatchStore:
    def __init__(self, engine: AsyncEngine, prune_every: int = 200) -> None:
        self.engine = engine
        self.prune_every = prune_every
        self._writes = 0

    def _live(self, query: _S) -> _S:
        return query.where(t.c.created_at > time.time() - TTL)

    async def get(self, batch_id: str, owner: str | None) -> BatchRecord | None:
        query = self._live(select(t).where(t.c.id == batch_id))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def count(self, owner: str) -> int:
        query = self._live(select(func.count()).select_from(t).where(t.c.owner == owner))
        async with self.engine.connect() as conn:
            found: int = (await conn.execute(query)).scalar_one()
        return found

    async def put(self, record: BatchRecord) -> None:
        self._writes += 1
        async with self.engine.begin() as conn:
            if self._writes % self.prune_every == 0:
                await conn.execute(delete(t).where(t.c.created_at <= time.time() - TTL))
            await conn.execute(delete(t).where(t.c.id == record.id))
            await conn.execute(
                insert(t).values(
                    id=record.id,
                    owner=record.owner,
                    provider=record.provider,
                    key_id=record.key_id,
                    models=record.models,
                    created_at=record.created,
                    batch=record.batch,
                    accounted=record.accounted,
                )
            )

    async def page(
        self, owner: str | None, after: float | None, before: float | None, limit: int
    ) -> list[BatchRecord]:
        query = self._live(select(t))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if before is not None and after is None:
            query = query.where(t.c.created_at > before).order_by(t.c.created_at.asc())
            async with self.engine.connect() as conn:
                rows = (await conn.execute(query.limit(limit))).all()
            return [_record(r) for r in reversed(rows)]
        if after is not None:
            query = query.where(t.c.created_at < after)
        query = query.order_by(t.c.created_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def update(self, batch_id: str, batch: bytes | None, accounted: int | None) -> None:
        async with self.engine.begin() as conn:
            if batch is not None:
                await conn.execute(update(t).where(t.c.id == batch_id).values(batch=batch))
            if accounted is not None:
                await conn.execute(
                    update(t)
                    .where(t.c.id == batch_id, t.c.accounted < accounted)
                    .values(accounted=accounted)
                )

    async def claim(self, batch_id: str, seen: int, lines: int) -> int:
        """One conditional UPDATE: on PostgreSQL a second one waits for the first's row lock,
        then finds the mark moved and changes nothing (SQLite runs one writer at a time)."""
        async with self.engine.begin() as conn:
            moved = await conn.execute(
                update(t).where(t.c.id == batch_id, t.c.accounted == seen).values(accounted=lines)
            )
            if moved.rowcount == 1:
                return seen
            query = select(t.c.accounted).where(t.c.id == batch_id)
            found = (await conn.execute(query)).scalar_one_or_none()
        return seen if found is None else int(found)

    async def delete(self, batch_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.id == batch_id))

"""OpenAI batch objects' ownership on SQL (see :mod:`turnout.openai_batches.store`).

Expired rows are never returned and are removed every ``prune_every`` writes.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

from turnout.openai_batches.store import TTL, Kind, ObjectRecord
from turnout.storage.sql.tables import openai_batch_objects as t


def _record(r: Any) -> ObjectRecord:
    return ObjectRecord(
        r.id,
        r.kind,
        r.owner,
        r.provider,
        r.key_id,
        r.models,
        r.endpoint,
        r.created_at,
        r.object,
        r.accounted,
    )


_S = TypeVar("_S", bound=Select[Any])


class SqlObjectStore:
    def __init__(self, engine: AsyncEngine, prune_every: int = 200) -> None:
        self.engine = engine
        self.prune_every = prune_every
        self._writes = 0

    def _live(self, query: _S) -> _S:
        return query.where(t.c.created_at > time.time() - TTL)

    async def get(
        self, object_id: str, kinds: tuple[Kind, ...], owner: str | None
    ) -> ObjectRecord | None:
        query = self._live(select(t).where(t.c.id == object_id, t.c.kind.in_(kinds)))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def count(self, owner: str, kind: Kind) -> int:
        query = self._live(
            select(func.count()).select_from(t).where(t.c.owner == owner, t.c.kind == kind)
        )
        async with self.engine.connect() as conn:
            found: int = (await conn.execute(query)).scalar_one()
        return found

    async def put(self, record: ObjectRecord) -> None:
        self._writes += 1
        async with self.engine.begin() as conn:
            if self._writes % self.prune_every == 0:
                await conn.execute(delete(t).where(t.c.created_at <= time.time() - TTL))
            await conn.execute(delete(t).where(t.c.id == record.id))
            await conn.execute(
                insert(t).values(
                    id=record.id,
                    kind=record.kind,
                    owner=record.owner,
                    provider=record.provider,
                    key_id=record.key_id,
                    models=record.models,
                    endpoint=record.endpoint,
                    created_at=record.created,
                    object=record.object,
                    accounted=record.accounted,
                )
            )

    async def page(
        self,
        owner: str | None,
        kinds: tuple[Kind, ...],
        after: ObjectRecord | None,
        limit: int,
        ascending: bool = False,
    ) -> list[ObjectRecord]:
        query = self._live(select(t).where(t.c.kind.in_(kinds)))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if after is not None:  # past the cursor in the order asked: its time, then its id
            created, object_id = after.created, after.id
            if ascending:
                query = query.where(
                    or_(
                        t.c.created_at > created,
                        and_(t.c.created_at == created, t.c.id > object_id),
                    )
                )
            else:
                query = query.where(
                    or_(
                        t.c.created_at < created,
                        and_(t.c.created_at == created, t.c.id < object_id),
                    )
                )
        if ascending:
            query = query.order_by(t.c.created_at.asc(), t.c.id.asc())
        else:
            query = query.order_by(t.c.created_at.desc(), t.c.id.desc())
        query = query.limit(limit)
        async with self.engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def update(self, object_id: str, obj: bytes | None, accounted: int | None) -> None:
        async with self.engine.begin() as conn:
            if obj is not None:
                await conn.execute(update(t).where(t.c.id == object_id).values(object=obj))
            if accounted is not None:
                await conn.execute(
                    update(t)
                    .where(t.c.id == object_id, t.c.accounted < accounted)
                    .values(accounted=accounted)
                )

    async def claim(self, object_id: str, seen: int, lines: int) -> int:
        """One conditional UPDATE (PostgreSQL: a second waits for the row lock, then finds
        the mark moved)."""
        async with self.engine.begin() as conn:
            moved = await conn.execute(
                update(t).where(t.c.id == object_id, t.c.accounted == seen).values(accounted=lines)
            )
            if moved.rowcount == 1:
                return seen
            query = select(t.c.accounted).where(t.c.id == object_id)
            found = (await conn.execute(query)).scalar_one_or_none()
        return seen if found is None else int(found)

    async def delete(self, object_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.id == object_id))

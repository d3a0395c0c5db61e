"""Responses conversation state on SQL (see :mod:`turnout.conversations.store`).

A record is replaced whole (delete and insert in one transaction); expired rows are removed
every ``prune_every`` writes, and never returned before that.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.conversations.store import Record
from turnout.storage.sql.tables import response_state as t


class SqlConversationStore:
    def __init__(self, engine: AsyncEngine, prune_every: int = 500) -> None:
        self.engine = engine
        self.prune_every = prune_every
        self._writes = 0

    async def get(self, response_id: str, owner: str) -> Record | None:
        query = select(t).where(
            t.c.id == response_id, t.c.owner == owner, t.c.expires_at > time.time()
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Record(
            row.id, row.owner, row.expires_at, row.items, row.response, row.deployment, row.key_id
        )

    async def put(self, record: Record) -> None:
        await self.put_many([record])

    async def put_many(self, records: list[Record]) -> None:
        """Replace each record whole, all in one transaction (the write-behind's batches)."""
        self._writes += len(records)
        async with self.engine.begin() as conn:
            if self._writes % self.prune_every < len(records):
                await conn.execute(delete(t).where(t.c.expires_at <= time.time()))
            await conn.execute(delete(t).where(t.c.id.in_([r.id for r in records])))
            await conn.execute(
                insert(t),
                [
                    {
                        "id": r.id,
                        "owner": r.owner,
                        "expires_at": r.expires,
                        "items": r.items,
                        "response": r.response,
                        "deployment": r.deployment,
                        "key_id": r.key_id,
                    }
                    for r in records
                ],
            )

    async def delete(self, response_id: str, owner: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(t).where(t.c.id == response_id, t.c.owner == owner))
        return bool(result.rowcount)

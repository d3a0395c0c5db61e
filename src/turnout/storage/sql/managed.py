"""Providers and models managed through the admin API, on SQL (see :mod:`turnout.live.store`).

Each write increments ``managed_version`` first, in the same transaction: the counter row's
lock orders writers, and a replica that reads version N after commit sees every entry of N.
Only sealed keys are written; the plaintext of a provider key never reaches a statement.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from turnout.live.store import Entry, Kind
from turnout.storage.sql.tables import managed_entries as m
from turnout.storage.sql.tables import managed_version as v


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


async def _bump(conn: AsyncConnection) -> int:
    result = await conn.execute(
        update(v).where(v.c.id == 1).values(version=v.c.version + 1).returning(v.c.version)
    )
    return int(result.scalar_one())


class SqlManagedStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def version(self) -> int:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(v.c.version).where(v.c.id == 1))).scalar()
        return int(value or 0)

    async def load(self) -> tuple[int, list[Entry]]:
        async with self.engine.connect() as conn:
            version = (await conn.execute(select(v.c.version).where(v.c.id == 1))).scalar()
            rows = (await conn.execute(select(m).order_by(m.c.kind, m.c.name))).all()
        entries = [
            Entry(
                kind=r.kind,
                name=r.name,
                body=json.loads(r.body),
                sealed_keys=json.loads(r.sealed_keys),
                updated_at=_utc(r.updated_at),
            )
            for r in rows
        ]
        return int(version or 0), entries

    async def put(self, entry: Entry) -> int:
        async with self.engine.begin() as conn:
            version = await _bump(conn)
            await conn.execute(delete(m).where(m.c.kind == entry.kind, m.c.name == entry.name))
            await conn.execute(
                insert(m).values(
                    kind=entry.kind,
                    name=entry.name,
                    body=json.dumps(entry.body),
                    sealed_keys=json.dumps(entry.sealed_keys),
                    updated_at=entry.updated_at,
                )
            )
        return version

    async def bump(self) -> int:
        async with self.engine.begin() as conn:
            return await _bump(conn)

    async def delete(self, kind: Kind, name: str) -> int | None:
        where = (m.c.kind == kind, m.c.name == name)
        async with self.engine.begin() as conn:
            if (await conn.execute(select(m.c.name).where(*where))).first() is None:
                return None
            version = await _bump(conn)
            await conn.execute(delete(m).where(*where))
        return version

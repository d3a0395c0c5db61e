"""Teams and gateway keys on SQL (the port is :class:`turnout.auth.store.KeyStore`).

Each write runs in one transaction that first increments ``tenancy_version`` and stamps the
row with the new number. The increment takes the counter row's lock until commit, so numbers
become visible in order: a replica that has read version N has every change up to N.
Spend for budgets is summed from the request log through its ``(gateway_key, ts)`` index.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from turnout.auth.records import Changes, KeyRecord, TeamRecord
from turnout.auth.store import Conflict, Missing
from turnout.storage.sql.engine import is_postgres
from turnout.storage.sql.tables import gateway_keys as k
from turnout.storage.sql.tables import request_log as log
from turnout.storage.sql.tables import signed_out_sessions as so
from turnout.storage.sql.tables import teams as t
from turnout.storage.sql.tables import tenancy_version as v


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _key(row: Row[Any]) -> KeyRecord:
    return KeyRecord.from_document(
        row.record,
        id=row.id,
        hash=row.hash,
        prefix=row.prefix,
        team=row.team,
        expires_at=_utc(row.expires_at),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        revoked_at=_utc(row.revoked_at),
        version=row.version,
    )


def _team(row: Row[Any]) -> TeamRecord:
    return TeamRecord.from_document(
        row.name,
        row.record,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        deleted_at=_utc(row.deleted_at),
        version=row.version,
    )


def _key_values(r: KeyRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "hash": r.hash,
        "prefix": r.prefix,
        "team": r.team,
        "record": r.document().decode(),
        "expires_at": r.expires_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "revoked_at": r.revoked_at,
    }


def _team_values(r: TeamRecord) -> dict[str, Any]:
    return {
        "name": r.name,
        "record": r.document().decode(),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "deleted_at": r.deleted_at,
    }


async def _bump(conn: AsyncConnection) -> int:
    result = await conn.execute(
        update(v).where(v.c.id == 1).values(version=v.c.version + 1).returning(v.c.version)
    )
    return int(result.scalar_one())


class SqlKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite files are shared too: `serve --workers N` and the `keys` CLI write the same file.
        self.shared = True
        self._postgres = is_postgres(engine)

    async def changes(self, since: int) -> Changes:
        async with self.engine.connect() as conn:
            version = int((await conn.execute(select(v.c.version).where(v.c.id == 1))).scalar_one())
            if version == since:
                return Changes(version, [], [])
            keys = (await conn.execute(select(k).where(k.c.version > since))).all()
            teams = (await conn.execute(select(t).where(t.c.version > since))).all()
            outs = (
                await conn.execute(
                    select(so.c.sid, so.c.expires).where(
                        so.c.version > since, so.c.expires > int(time.time())
                    )
                )
            ).all()
        return Changes(
            version,
            [_key(r) for r in keys],
            [_team(r) for r in teams],
            [(str(r.sid), int(r.expires)) for r in outs],
        )

    async def sign_out(self, sid: str, expires: int) -> None:
        async with self.engine.begin() as conn:
            version = await _bump(conn)
            # Rows past their session's expiry are read by no one: gone with each sign-out.
            await conn.execute(delete(so).where(so.c.expires <= int(time.time())))
            await conn.execute(delete(so).where(so.c.sid == sid))
            await conn.execute(insert(so).values(sid=sid, expires=expires, version=version))

    async def insert_key(self, record: KeyRecord) -> KeyRecord:
        try:
            async with self.engine.begin() as conn:
                version = await _bump(conn)
                await conn.execute(insert(k).values(**_key_values(record), version=version))
        except IntegrityError:
            raise Conflict(f"key {record.id} exists") from None
        return await self._reload_key(record.id)

    async def update_key(self, record: KeyRecord) -> KeyRecord:
        async with self.engine.begin() as conn:
            version = await _bump(conn)
            values = _key_values(record)
            values.pop("id")
            result = await conn.execute(
                update(k).where(k.c.id == record.id).values(**values, version=version)
            )
            if result.rowcount == 0:
                raise Missing(record.id)
        return await self._reload_key(record.id)

    async def _reload_key(self, key_id: str) -> KeyRecord:
        found = await self.get_key(key_id)
        if found is None:
            raise Missing(key_id)
        return found

    async def get_key(self, key_id: str) -> KeyRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(k).where(k.c.id == key_id))).first()
        return _key(row) if row is not None else None

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        query = select(k).order_by(k.c.created_at, k.c.id)
        if team is not None:
            query = query.where(k.c.team == team)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_key(r) for r in rows]

    async def insert_team(self, record: TeamRecord) -> TeamRecord:
        try:
            async with self.engine.begin() as conn:
                version = await _bump(conn)
                await conn.execute(insert(t).values(**_team_values(record), version=version))
        except IntegrityError:
            raise Conflict(f"team {record.name} exists") from None
        return await self._reload_team(record.name)

    async def update_team(self, record: TeamRecord) -> TeamRecord:
        async with self.engine.begin() as conn:
            version = await _bump(conn)
            values = _team_values(record)
            values.pop("name")
            result = await conn.execute(
                update(t).where(t.c.name == record.name).values(**values, version=version)
            )
            if result.rowcount == 0:
                raise Missing(record.name)
        return await self._reload_team(record.name)

    async def _reload_team(self, name: str) -> TeamRecord:
        found = await self.get_team(name)
        if found is None:
            raise Missing(name)
        return found

    async def get_team(self, name: str) -> TeamRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t).where(t.c.name == name))).first()
        return _team(row) if row is not None else None

    async def list_teams(self) -> list[TeamRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.name))).all()
        return [_team(r) for r in rows]

    async def spend(
        self, since: datetime, keys: Sequence[str], teams: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, float]]:
        by_key: dict[str, float] = {}
        by_team: dict[str, float] = {}
        async with self.engine.connect() as conn:
            if keys:
                rows = await conn.execute(
                    select(log.c.gateway_key, func.coalesce(func.sum(log.c.cost), 0.0))
                    .where(and_(log.c.gateway_key.in_(list(keys)), log.c.ts >= since))
                    .group_by(log.c.gateway_key)
                )
                by_key = {str(r[0]): float(r[1]) for r in rows}
            if teams:
                rows = await conn.execute(
                    select(log.c.team, func.coalesce(func.sum(log.c.cost), 0.0))
                    .where(and_(log.c.team.in_(list(teams)), log.c.ts >= since))
                    .group_by(log.c.team)
                )
                by_team = {str(r[0]): float(r[1]) for r in rows}
        return by_key, by_team

    async def close(self) -> None:
        return None  # the engine belongs to storage

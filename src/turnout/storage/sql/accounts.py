"""OAuth provider accounts on SQL (see :mod:`turnout.oauth.accounts`).

Only sealed tokens reach a statement. The version is one more than the table's highest, taken
inside the writing statement's transaction; the refresh lease is a conditional ``UPDATE``
whose row count says who won, which SQLite and PostgreSQL both make atomic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from turnout.oauth.accounts import ACTIVE, INVALID, AccountRecord
from turnout.storage.sql.tables import oauth_accounts as a


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _record(r: Any) -> AccountRecord:
    now = datetime.now(UTC)
    return AccountRecord(
        id=r.id,
        provider=r.provider,
        access_token=r.access_token,
        refresh_token=r.refresh_token,
        expires_at=_utc(r.expires_at),
        name=r.name,
        status=r.status,
        reason=r.reason,
        version=int(r.version),
        lease_owner=r.lease_owner,
        lease_until=_utc(r.lease_until),
        created_at=_utc(r.created_at) or now,
        updated_at=_utc(r.updated_at) or now,
        deleted_at=_utc(r.deleted_at),
    )


async def _next_version(conn: AsyncConnection) -> int:
    top = (await conn.execute(select(func.max(a.c.version)))).scalar()
    return int(top or 0) + 1


class SqlAccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, record: AccountRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(a).values(
                    id=record.id,
                    provider=record.provider,
                    name=record.name,
                    access_token=record.access_token,
                    refresh_token=record.refresh_token,
                    expires_at=record.expires_at,
                    status=record.status,
                    reason=record.reason,
                    version=await _next_version(conn),
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )

    async def list(self, since_version: int = 0) -> list[AccountRecord]:
        query = select(a).where(a.c.version > since_version).order_by(a.c.created_at, a.c.id)
        async with self.engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def get(self, account_id: str) -> AccountRecord | None:
        query = select(a).where(a.c.id == account_id, a.c.deleted_at.is_(None))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row is not None else None

    async def lease(self, account_id: str, owner: str, seconds: float) -> AccountRecord | None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                update(a)
                .where(
                    a.c.id == account_id,
                    a.c.deleted_at.is_(None),
                    or_(a.c.lease_owner.is_(None), a.c.lease_owner == owner, a.c.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            )
            if not taken.rowcount:
                return None
            row = (await conn.execute(select(a).where(a.c.id == account_id))).first()
        return _record(row) if row is not None else None

    async def save_tokens(
        self,
        account_id: str,
        owner: str,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(a)
                .where(a.c.id == account_id, a.c.lease_owner == owner, a.c.deleted_at.is_(None))
                .values(
                    access_token=access_token,
                    refresh_token=refresh_token,
                    expires_at=expires_at,
                    status=ACTIVE,
                    reason=None,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                    version=await _next_version(conn),
                )
            )
        return bool(done.rowcount)

    async def invalidate(self, account_id: str, owner: str | None, reason: str) -> bool:
        cond = [a.c.id == account_id, a.c.deleted_at.is_(None)]
        if owner is not None:
            cond.append(a.c.lease_owner == owner)
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(a)
                .where(*cond)
                .values(
                    status=INVALID,
                    reason=reason,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                    version=await _next_version(conn),
                )
            )
        return bool(done.rowcount)

    async def release(self, account_id: str, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(a)
                .where(a.c.id == account_id, a.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def delete(self, account_id: str) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(a)
                .where(a.c.id == account_id, a.c.deleted_at.is_(None))
                .values(deleted_at=datetime.now(UTC), version=await _next_version(conn))
            )
        return bool(done.rowcount)

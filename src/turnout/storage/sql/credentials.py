"""Sealed provider credentials on SQL (see :mod:`turnout.auth.credentials`).

Only ciphertext and a mask are written; the plaintext key never reaches a statement.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.auth.credentials import CredentialRecord
from turnout.storage.sql.engine import make_engine, sqlite_path
from turnout.storage.sql.tables import provider_credentials as c


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class SqlCredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, record: CredentialRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(c).values(
                    id=record.id,
                    provider=record.provider,
                    name=record.name,
                    mask=record.mask,
                    secret=record.secret,
                    created_at=record.created_at,
                )
            )

    async def list(self) -> list[CredentialRecord]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(c).where(c.c.deleted_at.is_(None)).order_by(c.c.created_at, c.c.id)
                )
            ).all()
        return [
            CredentialRecord(
                id=r.id,
                provider=r.provider,
                mask=r.mask,
                secret=r.secret,
                name=r.name,
                created_at=_utc(r.created_at) or datetime.now(UTC),
            )
            for r in rows
        ]

    async def delete(self, credential_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(c)
                .where(c.c.id == credential_id, c.c.deleted_at.is_(None))
                .values(deleted_at=datetime.now(UTC))
            )
        return bool(result.rowcount)


async def load_saved(url: str, seconds: float) -> list[CredentialRecord]:
    """Every live credential of the database at ``url``, before the gateway starts. A
    database that does not exist yet, or has no credentials table yet, has none."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    engine = make_engine(url)
    try:
        async with asyncio.timeout(seconds):
            return await SqlCredentialStore(engine).list()
    except DBAPIError as exc:
        if "provider_credentials" in str(exc):  # not migrated yet: nothing stored
            return []
        raise
    finally:
        await engine.dispose()

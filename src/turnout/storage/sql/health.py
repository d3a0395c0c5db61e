"""Key and deployment health in SQL, so a restarted gateway remembers which keys were revoked
and which deployments were cooling down (the port is :class:`turnout.health.store.HealthStore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.storage.sql.engine import is_postgres
from turnout.storage.sql.tables import health_state as t

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.dialects.postgresql import Insert

Record = dict[str, Any]


class SqlHealthStore:
    """Shared when the database is (PostgreSQL): replicas read each other's saved state."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.shared = is_postgres(engine)

    async def load(self) -> list[Record]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.c.record))).scalars().all()
        return [orjson.loads(r) for r in rows]

    async def save(self, records: Sequence[Record]) -> None:
        if not records:
            return
        now = datetime.now(UTC)
        values = [
            {
                "kind": str(r["kind"]),
                "id": str(r["id"]),
                "record": orjson.dumps(r).decode(),
                "updated_at": now,
            }
            for r in records
        ]
        insert = _pg_insert(t) if self.shared else sqlite_insert(t)
        stmt = insert.on_conflict_do_update(
            index_elements=[t.c.kind, t.c.id],
            set_={"record": insert.excluded.record, "updated_at": insert.excluded.updated_at},
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt, values)

    async def close(self) -> None:
        return None


def _pg_insert(table: Table) -> Insert:
    """PostgreSQL's upsert; its dialect (~4 MB resident) is imported only on PostgreSQL."""
    from sqlalchemy.dialects.postgresql import insert

    return insert(table)

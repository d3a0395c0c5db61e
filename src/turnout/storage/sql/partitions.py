"""Daily partitions of the request log on PostgreSQL.

A partition per UTC day keeps every index small (inserts touch only today's) and makes
retention a ``DROP TABLE`` instead of millions of deletes. Partitions are made a few days
ahead so rows never land in the default partition, which exists only so that an insert can
never fail for want of one (a row far in the past or future, a clock jump). Whole days older
than the retention cutoff are dropped; rows in the default partition are pruned by the batched
delete every backend uses.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.observability.logging import get_logger

log = get_logger("turnout.storage")
_NAME = re.compile(r"^request_log_p(\d{8})$")
_LIST = text(
    "SELECT c.relname FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
    "JOIN pg_namespace n ON n.oid = p.relnamespace "
    "WHERE p.relname = 'request_log' AND n.nspname = current_schema()"
)


def name(day: date) -> str:
    return f"request_log_p{day:%Y%m%d}"


async def existing(engine: AsyncEngine) -> dict[date, str]:
    async with engine.connect() as conn:
        names = (await conn.execute(_LIST)).scalars().all()
    out: dict[date, str] = {}
    for relname in names:
        m = _NAME.match(relname)
        if m:
            out[datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC).date()] = relname
    return out


async def ensure(engine: AsyncEngine, ahead: int, today: date | None = None) -> list[str]:
    """Create the partitions of today and the next ``ahead`` days that do not exist yet."""
    today = today or datetime.now(UTC).date()
    have = await existing(engine)
    made = []
    for offset in range(ahead + 1):
        day = today + timedelta(days=offset)
        if day in have:
            continue
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        ddl = (
            f"CREATE TABLE IF NOT EXISTS {name(day)} PARTITION OF request_log "
            f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
        )
        try:
            async with engine.begin() as conn:
                await conn.execute(text(ddl))
        except Exception as exc:  # another replica won the race, or rows sit in the default
            log.warning("partition not created", partition=name(day), error=str(exc)[:300])
            continue
        made.append(name(day))
    return made


async def drop_before(engine: AsyncEngine, cutoff: datetime) -> list[str]:
    """Drop the partitions whose whole day is older than ``cutoff``."""
    dropped = []
    for day, relname in sorted((await existing(engine)).items()):
        day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if day_end > cutoff:
            break
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {relname}"))
        dropped.append(relname)
    return dropped

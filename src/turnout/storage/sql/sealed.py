"""Every sealed column of the database, and re-sealing them under the newest secret key.

A table that stores values sealed with :class:`turnout.crypto.SecretBox` registers one
:class:`Sealed` entry in :data:`SEALED`: its table, which rows are live, and for each sealed
column how its associated data (the context) is built from the row. ``turnout secrets
status`` counts the values under each key id; ``turnout secrets rotate`` re-seals every value
that is not under the newest key.

Rotation needs no downtime: every gateway is first given the key list (new key first, the old
one after it), so each can open values under either key while the rows change under it. Each
value is replaced with a compare-and-set (``WHERE column = <the value read>``): a row written
meanwhile (a refreshed OAuth token, say) is left as the writer made it and counted as
``changed``, never overwritten with an older plaintext. A value no listed key opens is named
(table, row id, column, key id) and left alone; it never stops the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.crypto import SecretBox, SecretKeyError, sealed_key_id
from turnout.storage.sql import tables

BATCH = 500


@dataclass(frozen=True, slots=True)
class Sealed:
    table: Table
    columns: dict[str, Callable[[Any], str]]  # column → context(row)
    live: Callable[[Table], Any] | None = None  # a WHERE clause: rows still in use


def _credential_context(row: Any) -> str:
    from turnout.auth.credentials import context

    return context(row.id, row.provider)


def _account_context(kind: str) -> Callable[[Any], str]:
    from turnout.oauth.accounts import context

    return lambda row: context(row.id, row.provider, kind)


SEALED: tuple[Sealed, ...] = (
    Sealed(
        tables.provider_credentials,
        {"secret": _credential_context},
        lambda t: t.c.deleted_at.is_(None),
    ),
    Sealed(
        tables.oauth_accounts,
        {"access_token": _account_context("access"), "refresh_token": _account_context("refresh")},
        lambda t: t.c.deleted_at.is_(None),
    ),
)


@dataclass(slots=True)
class Problem:
    table: str
    row: str
    column: str
    key_id: str | None
    error: str

    def __str__(self) -> str:
        under = f"key id {self.key_id}" if self.key_id else "no key id"
        return f"{self.table} {self.row} ({self.column}, {under}): {self.error}"


@dataclass(slots=True)
class Report:
    """What a rotation did, or (``rotated`` left at 0) what a status check found."""

    newest: str
    by_key: Counter[str] = field(default_factory=Counter)  # values under each key id, before
    rotated: int = 0
    current: int = 0
    changed: int = 0  # rewritten by someone else meanwhile: left as they are
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "newest_key_id": self.newest,
            "by_key_id": dict(self.by_key),
            "rotated": self.rotated,
            "current": self.current,
            "changed": self.changed,
            "problems": [str(p) for p in self.problems],
        }


async def _rows(engine: AsyncEngine, entry: Sealed, after: str | None) -> list[Any]:
    t = entry.table
    query = select(t).order_by(t.c.id).limit(BATCH)
    if entry.live is not None:
        query = query.where(entry.live(t))
    if after is not None:
        query = query.where(t.c.id > after)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def rotate(engine: AsyncEngine, box: SecretBox, *, dry_run: bool = False) -> Report:
    """Re-seal every live sealed value under ``box``'s newest key (``dry_run``: only count
    and try to open them)."""
    report = Report(box.key_id)
    for entry in SEALED:
        t = entry.table
        after: str | None = None
        while rows := await _rows(engine, entry, after):
            after = rows[-1].id
            updates: list[tuple[Any, str, str, str]] = []
            for row in rows:
                for column, context in entry.columns.items():
                    value = getattr(row, column)
                    if value is None:
                        continue
                    kid = sealed_key_id(value)
                    report.by_key[kid or "?"] += 1
                    try:
                        fresh = box.reseal(value, context(row))
                    except SecretKeyError as exc:
                        report.problems.append(Problem(t.name, row.id, column, kid, str(exc)))
                        continue
                    if kid == box.key_id:
                        report.current += 1
                    else:
                        updates.append((row.id, column, value, fresh))
            if dry_run or not updates:
                continue
            async with engine.begin() as conn:
                for row_id, column, old, fresh in updates:
                    col = t.c[column]
                    result = await conn.execute(
                        update(t).where(t.c.id == row_id, col == old).values({column: fresh})
                    )
                    if result.rowcount:
                        report.rotated += 1
                    else:
                        report.changed += 1
    return report


async def status(engine: AsyncEngine, box: SecretBox) -> Report:
    """How many live sealed values each key id holds, and which ones no listed key opens."""
    return await rotate(engine, box, dry_run=True)

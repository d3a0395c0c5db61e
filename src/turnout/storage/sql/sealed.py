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

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.crypto import SecretBox, SecretKeyError, sealed_key_id
from turnout.storage.sql import tables

BATCH = 500


@dataclass(frozen=True, slots=True)
class Sealed:
    table: Table
    columns: dict[str, Callable[[Any], str]]  # column → context(row)
    live: Callable[[Table], Any] | None = None  # a WHERE clause: rows still in use
    key: tuple[str, ...] = ("id",)  # the columns that name a row
    lists: frozenset[str] = frozenset()  # columns holding a JSON list of sealed values


def _credential_context(row: Any) -> str:
    from turnout.auth.credentials import context

    return context(row.id, row.provider)


def _account_context(kind: str) -> Callable[[Any], str]:
    from turnout.oauth.accounts import context

    return lambda row: context(row.id, row.provider, kind)


def _managed_context(row: Any) -> str:
    from turnout.live.store import seal_context

    return seal_context(row.name, row.kind)


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
    # Providers managed through the admin API: their keys, a JSON list per row.
    Sealed(
        tables.managed_entries,
        {"sealed_keys": _managed_context},
        key=("kind", "name"),
        lists=frozenset({"sealed_keys"}),
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


async def _rows(engine: AsyncEngine, entry: Sealed, after: tuple[Any, ...] | None) -> list[Any]:
    t = entry.table
    cols = [t.c[k] for k in entry.key]
    query = select(t).order_by(*cols).limit(BATCH)
    if entry.live is not None:
        query = query.where(entry.live(t))
    if after is not None:
        query = query.where(tuple_(*cols) > tuple_(*after))
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


def _values(entry: Sealed, column: str, raw: str) -> list[str] | None:
    """The sealed values a column holds: one, or a JSON list's (None: not a list)."""
    if column not in entry.lists:
        return [raw]
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return [v for v in found if isinstance(v, str)] if isinstance(found, list) else None


async def rotate(engine: AsyncEngine, box: SecretBox, *, dry_run: bool = False) -> Report:
    """Re-seal every live sealed value under ``box``'s newest key (``dry_run``: only count
    and try to open them)."""
    report = Report(box.key_id)
    for entry in SEALED:
        t = entry.table
        after: tuple[Any, ...] | None = None
        while rows := await _rows(engine, entry, after):
            after = tuple(getattr(rows[-1], k) for k in entry.key)
            updates: list[tuple[tuple[Any, ...], str, str, str]] = []
            for row in rows:
                name = "/".join(str(getattr(row, k)) for k in entry.key)
                for column, context in entry.columns.items():
                    raw = getattr(row, column)
                    if raw is None:
                        continue
                    values = _values(entry, column, raw)
                    if values is None:
                        report.problems.append(Problem(t.name, name, column, None, "not a list"))
                        continue
                    fresh_values, stale, broken = [], 0, False
                    for value in values:
                        kid = sealed_key_id(value)
                        report.by_key[kid or "?"] += 1
                        try:
                            fresh_values.append(box.reseal(value, context(row)))
                        except SecretKeyError as exc:
                            report.problems.append(Problem(t.name, name, column, kid, str(exc)))
                            broken = True
                            continue
                        if kid == box.key_id:
                            report.current += 1
                        else:
                            stale += 1
                    if broken or not stale:
                        continue  # a list is re-sealed whole or not at all
                    fresh = json.dumps(fresh_values) if column in entry.lists else fresh_values[0]
                    keys = tuple(getattr(row, k) for k in entry.key)
                    updates.append((keys, column, raw, fresh))
            if dry_run or not updates:
                continue
            async with engine.begin() as conn:
                for keys, column, old, fresh in updates:
                    col = t.c[column]
                    match = [t.c[k] == v for k, v in zip(entry.key, keys, strict=True)]
                    result = await conn.execute(
                        update(t).where(*match, col == old).values({column: fresh})
                    )
                    n = len(_values(entry, column, old) or [])
                    stale_n = sum(
                        1
                        for v in (_values(entry, column, old) or [])
                        if sealed_key_id(v) != box.key_id
                    )
                    if result.rowcount:
                        report.rotated += stale_n
                    else:
                        report.changed += n
    return report


async def status(engine: AsyncEngine, box: SecretBox) -> Report:
    """How many live sealed values each key id holds, and which ones no listed key opens."""
    return await rotate(engine, box, dry_run=True)

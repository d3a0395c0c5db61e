"""The key store port, and its in-memory backend.

Every replica reads the whole (small) key and team tables into memory and then follows a
change feed: the store numbers each change, stamps the changed row with that number, and
:meth:`KeyStore.changes` returns the rows above a number. One integer read per poll when
nothing changed, which is what lets a revoke reach every replica within a second without a
database call per request. The memory backend serves ``storage.url: memory://`` and
``storage.enabled: false`` (keys then live as long as the process) and is the reference the
SQL backend is tested against.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from turnout.auth.records import Changes, KeyRecord, TeamRecord


class Conflict(Exception):
    """The record exists already (a team name, a key hash)."""


class Missing(Exception):
    """No such record."""


class KeyStore(Protocol):
    shared: bool  # other processes see the same data (a replica must poll for changes)

    async def changes(self, since: int) -> Changes:
        """Keys and teams whose version is above ``since`` (all of them for -1)."""
        ...

    async def insert_key(self, record: KeyRecord) -> KeyRecord: ...

    async def update_key(self, record: KeyRecord) -> KeyRecord: ...

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]: ...

    async def insert_team(self, record: TeamRecord) -> TeamRecord: ...

    async def update_team(self, record: TeamRecord) -> TeamRecord: ...

    async def get_team(self, name: str) -> TeamRecord | None: ...

    async def list_teams(self) -> list[TeamRecord]: ...

    async def spend(
        self, since: datetime, keys: Sequence[str], teams: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """USD spent since ``since`` per gateway key id and per team, from the request log."""
        ...

    async def sign_out(self, sid: str, expires: int) -> None:
        """A dashboard session signed out: in the change feed until it would have expired."""
        ...

    async def close(self) -> None: ...


class MemoryKeyStore:
    shared = False

    def __init__(self) -> None:
        self.keys: dict[str, KeyRecord] = {}
        self.teams: dict[str, TeamRecord] = {}
        self.signed_out: dict[str, tuple[int, int]] = {}  # sid -> (expires, version)
        self.version = 0

    def _next(self) -> int:
        self.version += 1
        return self.version

    async def changes(self, since: int) -> Changes:
        now = time.time()
        return Changes(
            self.version,
            [k for k in self.keys.values() if k.version > since],
            [t for t in self.teams.values() if t.version > since],
            [(s, e) for s, (e, v) in self.signed_out.items() if v > since and e > now],
        )

    async def sign_out(self, sid: str, expires: int) -> None:
        now = time.time()
        for old in [s for s, (e, _) in self.signed_out.items() if e <= now]:
            del self.signed_out[old]
        self.signed_out[sid] = (expires, self._next())

    async def insert_key(self, record: KeyRecord) -> KeyRecord:
        if record.id in self.keys or any(k.hash == record.hash for k in self.keys.values()):
            raise Conflict(f"key {record.id} exists")
        stored = self.keys[record.id] = replace(record, version=self._next())
        return stored

    async def update_key(self, record: KeyRecord) -> KeyRecord:
        if record.id not in self.keys:
            raise Missing(record.id)
        stored = self.keys[record.id] = replace(record, version=self._next())
        return stored

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        found = [k for k in self.keys.values() if team is None or k.team == team]
        return sorted(found, key=lambda k: k.created_at)

    async def insert_team(self, record: TeamRecord) -> TeamRecord:
        if record.name in self.teams:
            raise Conflict(f"team {record.name} exists")
        stored = self.teams[record.name] = replace(record, version=self._next())
        return stored

    async def update_team(self, record: TeamRecord) -> TeamRecord:
        if record.name not in self.teams:
            raise Missing(record.name)
        stored = self.teams[record.name] = replace(record, version=self._next())
        return stored

    async def get_team(self, name: str) -> TeamRecord | None:
        return self.teams.get(name)

    async def list_teams(self) -> list[TeamRecord]:
        return sorted(self.teams.values(), key=lambda t: t.name)

    async def spend(
        self, since: datetime, keys: Sequence[str], teams: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, float]]:
        # A memory store lives as long as its process, and so does the limiter that counted
        # every cent spent in it: there is no earlier spend to find.
        return {}, {}

    async def close(self) -> None:
        return None

"""Providers and models managed through the admin API, as the database keeps them.

An entry is one provider, model or other registered kind (:data:`turnout.live.managed.KINDS`),
written as its YAML section would be, its secrets (a provider's ``api_keys``, an MCP server's
credentials) kept apart, each sealed with the secret box, never stored in the clear. Every
write takes the next number of one version counter, in the same transaction, so a replica
learns of a change by reading one integer (:mod:`turnout.live.replicas`) and then reloads
everything: the whole set is small and read whole.

The port has two backends: memory (``storage.url: memory://`` or storage off: entries last as
long as the process) and SQL (``storage/sql/managed.py``: SQLite and PostgreSQL).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

Kind = str  # a name in turnout.live.managed.KINDS ("provider", "model", "mcp_server", ...)


@dataclass(slots=True)
class Entry:
    kind: Kind
    name: str
    body: dict[str, Any]  # the section, without secrets
    sealed_keys: list[str] = field(default_factory=list)  # secrets: AES-GCM, turnout.crypto
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ManagedStore(Protocol):
    async def version(self) -> int: ...

    async def load(self) -> tuple[int, list[Entry]]: ...

    async def put(self, entry: Entry) -> int: ...

    async def delete(self, kind: Kind, name: str) -> int | None:
        """The new version, or None when there was no such entry."""
        ...

    async def bump(self) -> int:
        """Take the next version without changing an entry (stored provider keys changed:
        every replica must reload)."""
        ...


class MemoryManagedStore:
    def __init__(self) -> None:
        self._version = 0
        self._entries: dict[tuple[str, str], Entry] = {}

    async def version(self) -> int:
        return self._version

    async def load(self) -> tuple[int, list[Entry]]:
        return self._version, [copy.deepcopy(e) for e in self._entries.values()]

    async def put(self, entry: Entry) -> int:
        self._version += 1
        self._entries[(entry.kind, entry.name)] = copy.deepcopy(entry)
        return self._version

    async def bump(self) -> int:
        self._version += 1
        return self._version

    async def delete(self, kind: Kind, name: str) -> int | None:
        if self._entries.pop((kind, name), None) is None:
            return None
        self._version += 1
        return self._version


def seal_context(name: str, kind: Kind = "provider") -> str:
    """Associated data binding a sealed secret to its managed entry."""
    return f"managed-{kind}:{name}"

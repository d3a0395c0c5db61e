"""The callers' own connections to one passthrough MCP server, bounded per caller.

A passthrough server has no connection of its own: each caller's credential gets one
(:meth:`turnout.mcp.upstream.Upstream.child_for`), kept for reuse while it is used. Before
(2026-12-07) they were one least-recently-used list of 64 for all callers, so one gateway key
cycling through 65 credentials (any strings: the upstream need not accept them, the connection
is opened first) closed every other key's connections, again and again: their sessions'
subscriptions and in-flight calls went with them. Now each caller (gateway key; every caller
of an open gateway is one) holds at most :data:`PER_CALLER` connections, and its next one
closes its own least recently used; past :data:`TOTAL` for the server, the least recently used
connection of the caller holding the most goes, so a caller within a fair share is never the
one evicted while another holds more.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

PER_CALLER = 16  # one caller's own connections to one passthrough server
TOTAL = 256  # all callers' connections to one passthrough server


class Used(Protocol):
    used: float  # monotonic time of its last use


C = TypeVar("C", bound=Used)


class Children(Generic[C]):
    """Connections by caller, then by credential digest, each in least-recently-used order."""

    def __init__(self, per_caller: int = PER_CALLER, total: int = TOTAL) -> None:
        self.per_caller = per_caller
        self.total = total
        self._by: dict[str, OrderedDict[str, C]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, owner: str, digest: str) -> C | None:
        """The caller's connection for this credential, marked most recently used."""
        mine = self._by.get(owner)
        child = mine.get(digest) if mine is not None else None
        if mine is not None and child is not None:
            mine.move_to_end(digest)
        return child

    def add(self, owner: str, digest: str, child: C) -> list[C]:
        """Keep ``child`` for the caller; the connections it pushes out, for the caller to
        close: the caller's own oldest at its bound, else at the server's bound the oldest of
        whoever holds the most."""
        out: list[C] = []
        mine = self._by.setdefault(owner, OrderedDict())
        if len(mine) >= self.per_caller:
            out.append(mine.popitem(last=False)[1])
        elif self._count >= self.total:
            biggest = max(self._by.values(), key=len)
            out.append(biggest.popitem(last=False)[1])
        mine[digest] = child
        self._count += 1 - len(out)
        self._prune()
        return out

    def idle(self, before: float) -> list[C]:
        """Takes out and returns the connections last used before ``before``."""
        out: list[C] = []
        for mine in self._by.values():
            for digest, child in list(mine.items()):
                if child.used < before:
                    del mine[digest]
                    out.append(child)
        self._count -= len(out)
        self._prune()
        return out

    def clear(self) -> list[C]:
        """Takes out and returns every connection."""
        out = [child for mine in self._by.values() for child in mine.values()]
        self._by.clear()
        self._count = 0
        return out

    def held(self, owner: str) -> int:
        mine = self._by.get(owner)
        return len(mine) if mine is not None else 0

    def _prune(self) -> None:
        for owner in [o for o, mine in self._by.items() if not mine]:
            del self._by[owner]

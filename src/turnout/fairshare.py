"""Bounded tables that share their room fairly between the gateway keys that fill them.

A table bounded in entries or bytes must drop something when it is full. Dropping the oldest
entry whoever holds it lets one key that sends many distinct requests push out every other
key's entries (their cached answers, sticky pins, task owners, stored conversations, judge
verdicts). :class:`Shares` instead names the oldest (least recently used, for a table that
calls :meth:`Shares.touch` on a hit) entry of the owner holding the most: a key filling the
table pushes out only its own entries once it holds more than any other, and a key holding
less than its share keeps everything.

The table itself stays the caller's (a dict of whatever it keeps); :class:`Shares` keeps, per
owner, its entries in age order and how much they weigh. Every call is O(1) in the common
case: finding the owner holding the most is a max-heap of (amount, owner) snapshots checked
against the live amounts when read, and an owner's snapshot is pushed only when it grows past
the highest it has one for, so a table that stays full (one entry out, one in) pushes
nothing and reads the heap's top.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from heapq import heapify, heappop, heappush, heapreplace
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)

# Stale snapshots (owners gone, or grown again past a pushed one) are dropped when the heap
# grows past twice the owners plus this: an O(owners) rebuild after as many pushes.
_SLACK = 64


class _Most:
    """Each owner's amount, and which owner has the largest.

    Invariant: every owner in ``live`` has a snapshot in the heap at least as large as its
    live amount (pushed when it grows past ``mark``, the last one pushed for it). So when the
    heap's top matches its owner's live amount, no other owner can hold more; a stale top is
    replaced by its owner's live amount (smaller), and the search goes on."""

    __slots__ = ("_heap", "_mark", "live")

    def __init__(self) -> None:
        self.live: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._mark: dict[str, int] = {}

    def add(self, owner: str, amount: int) -> None:
        value = self.live.get(owner, 0) + amount
        self.live[owner] = value
        if value > self._mark.get(owner, 0):
            self._mark[owner] = value
            heap = self._heap
            heappush(heap, (-value, owner))
            if len(heap) > 2 * len(self.live) + _SLACK:
                self._rebuild()

    def sub(self, owner: str, amount: int) -> None:
        self.live[owner] -= amount  # the snapshot pushed before is now larger: still valid

    def forget(self, owner: str) -> None:
        del self.live[owner]
        self._mark.pop(owner, None)  # its snapshots go when they reach the top

    def most(self) -> str:
        heap, live = self._heap, self.live
        if not heap and live:
            self._rebuild()
        while heap:
            negative, owner = heap[0]
            value = live.get(owner)
            if value == -negative:
                return owner
            if value is None:
                heappop(heap)
            else:
                self._mark[owner] = value
                heapreplace(heap, (-value, owner))
        raise LookupError("nothing is held")

    def _rebuild(self) -> None:
        self._heap[:] = [(-value, owner) for owner, value in self.live.items()]
        heapify(self._heap)
        self._mark = dict(self.live)

    def clear(self) -> None:
        self.live.clear()
        self._heap.clear()
        self._mark.clear()


class Shares(Generic[T]):
    """Which owner holds which entries of a bounded table, oldest first, and how much.

    The table calls :meth:`add` for each entry it keeps (once: :meth:`remove` it before
    keeping it again), :meth:`remove` for each it drops, and, past its bound,
    :meth:`victim` for the entry to drop next. ``sized``: entries weigh their ``size`` too
    (``victim(by_bytes=True)``), for tables bounded in bytes."""

    __slots__ = ("_bytes", "_counts", "_held", "bytes", "count")

    def __init__(self, sized: bool = False) -> None:
        self._held: dict[str, OrderedDict[T, int]] = {}
        self._counts = _Most()
        self._bytes = _Most() if sized else None
        self.count = 0  # entries held, all owners together
        self.bytes = 0  # their sizes (a size of 1 each when not ``sized``)

    def add(self, item: T, owner: str, size: int = 1) -> None:
        """``owner`` now holds ``item`` (its newest), which weighs ``size`` (at least 1)."""
        mine = self._held.get(owner)
        if mine is None:
            mine = self._held[owner] = OrderedDict()
        mine[item] = size
        self.count += 1
        self.bytes += size
        self._counts.add(owner, 1)
        if self._bytes is not None:
            self._bytes.add(owner, size)

    def touch(self, item: T, owner: str) -> None:
        """``item`` was used: it is now ``owner``'s newest (the last its owner loses)."""
        self._held[owner].move_to_end(item)

    def remove(self, item: T, owner: str) -> int:
        """``item`` left the table; returns its size."""
        mine = self._held[owner]
        size = mine.pop(item)
        self.count -= 1
        self.bytes -= size
        if mine:
            self._counts.sub(owner, 1)
            if self._bytes is not None:
                self._bytes.sub(owner, size)
        else:
            del self._held[owner]
            self._counts.forget(owner)
            if self._bytes is not None:
                self._bytes.forget(owner)
        return size

    def victim(self, by_bytes: bool = False) -> tuple[T, str]:
        """The entry to drop next, and its owner: the oldest of the owner holding the most
        entries (``by_bytes``: the most bytes). Raises LookupError when nothing is held."""
        most = self._bytes if by_bytes and self._bytes is not None else self._counts
        owner = most.most()
        return next(iter(self._held[owner])), owner

    def held(self, owner: str) -> int:
        """How many entries ``owner`` holds."""
        mine = self._held.get(owner)
        return 0 if mine is None else len(mine)

    def owners(self) -> int:
        """How many owners hold any entry."""
        return len(self._held)

    def clear(self) -> None:
        self._held.clear()
        self._counts.clear()
        if self._bytes is not None:
            self._bytes.clear()
        self.count = self.bytes = 0

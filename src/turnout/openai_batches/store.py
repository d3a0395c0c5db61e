"""Which gateway key owns which OpenAI batch file and batch, and where each lives.

One record per object made through the gateway: an input file (uploaded with
``purpose=batch``), a batch, or an output or error file a batch produced (recorded when the
gateway first sees its id in the batch object). A record holds the object's id (the
upstream's), its kind, the owner (the gateway key's id, "" on an open gateway), the provider
and the key fingerprint that hold it (every later request goes to them), the public model
names by upstream name (an output file's usage is accounted under the public name), the
endpoint its lines call, the object as last seen and how many output lines were accounted.
Records expire (:data:`TTL`) and each owner holds at most ``storage.batches_per_key`` input
files and as many batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal, Protocol

TTL = 30 * 86_400.0  # OpenAI keeps a batch's files 30 days
Kind = Literal["input", "output", "batch"]
FILES: tuple[Kind, ...] = ("input", "output")
ALL: tuple[Kind, ...] = ("input", "output", "batch")


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    id: str
    kind: Kind
    owner: str
    provider: str
    key_id: str
    models: bytes  # JSON object: upstream model name -> public model name
    endpoint: str  # the URL every line of the input file calls ("" for an output file)
    created: float
    object: bytes  # the file or batch object as the client last got it
    accounted: int = 0  # output lines whose usage was counted

    @property
    def expires(self) -> float:
        return self.created + TTL


class ObjectStore(Protocol):
    async def get(
        self, object_id: str, kinds: tuple[Kind, ...], owner: str | None
    ) -> ObjectRecord | None:
        """``owner`` None: whoever owns it (the master key)."""
        ...

    async def count(self, owner: str, kind: Kind) -> int: ...
    async def put(self, record: ObjectRecord) -> None: ...
    async def page(
        self,
        owner: str | None,
        kinds: tuple[Kind, ...],
        after: ObjectRecord | None,
        limit: int,
        ascending: bool = False,
    ) -> list[ObjectRecord]:
        """Newest first (oldest first if ``ascending``), by creation time then id, those past
        the cursor ``after`` in that order."""
        ...

    async def update(self, object_id: str, obj: bytes | None, accounted: int | None) -> None:
        """A fresh object, or a higher accounted count (never lowered)."""
        ...

    async def claim(self, object_id: str, seen: int, lines: int) -> int:
        """Move an output file's counted-lines mark from ``seen`` to ``lines`` if it still is
        ``seen`` (compare-and-set); the mark found (``seen``: this read won the lines). A
        record gone claims: those lines were relayed. As
        :meth:`turnout.batches.store.BatchStore.claim`."""
        ...

    async def delete(self, object_id: str) -> None: ...


class MemoryObjectStore:
    """In-process (``storage.url: memory://`` or storage off): bounded by the per-key caps
    times the keys (an output file is recorded only from a batch the key holds)."""

    def __init__(self) -> None:
        self._records: dict[str, ObjectRecord] = {}

    def _live(self, record: ObjectRecord | None) -> ObjectRecord | None:
        if record is not None and record.expires <= time.time():
            self._records.pop(record.id, None)
            return None
        return record

    async def get(
        self, object_id: str, kinds: tuple[Kind, ...], owner: str | None
    ) -> ObjectRecord | None:
        record = self._live(self._records.get(object_id))
        if record is None or record.kind not in kinds:
            return None
        if owner is not None and record.owner != owner:
            return None
        return record

    async def count(self, owner: str, kind: Kind) -> int:
        records = list(self._records.values())
        return sum(1 for r in records if r.owner == owner and r.kind == kind and self._live(r))

    async def put(self, record: ObjectRecord) -> None:
        self._records[record.id] = record

    async def page(
        self,
        owner: str | None,
        kinds: tuple[Kind, ...],
        after: ObjectRecord | None,
        limit: int,
        ascending: bool = False,
    ) -> list[ObjectRecord]:
        mine = [
            r
            for r in list(self._records.values())
            if (owner is None or r.owner == owner) and r.kind in kinds and self._live(r)
        ]
        mine.sort(key=lambda r: (r.created, r.id), reverse=not ascending)
        if after is not None:
            cursor = after.created, after.id
            if ascending:
                mine = [r for r in mine if (r.created, r.id) > cursor]
            else:
                mine = [r for r in mine if (r.created, r.id) < cursor]
        return mine[:limit]

    async def update(self, object_id: str, obj: bytes | None, accounted: int | None) -> None:
        record = self._records.get(object_id)
        if record is None:
            return
        if obj is not None:
            record = replace(record, object=obj)
        if accounted is not None and accounted > record.accounted:
            record = replace(record, accounted=accounted)
        self._records[object_id] = record

    async def claim(self, object_id: str, seen: int, lines: int) -> int:
        record = self._records.get(object_id)  # no await from here on: atomic in the process
        if record is None:
            return seen
        if record.accounted != seen:
            return record.accounted
        self._records[object_id] = replace(record, accounted=lines)
        return seen

    async def delete(self, object_id: str) -> None:
        self._records.pop(object_id, None)

"""Where a Responses conversation's state is kept between turns.

Two kinds of record, both keyed by the response id and owned by the caller's gateway key:
``items`` (the input and output items of a response a translated upstream answered, which the
gateway replays before the next turn's input) and a ``pin`` (the deployment and key of an
OpenAI upstream that holds the state itself, which the next turn must reach again). Every
record expires; the memory backend is also bounded in count and bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from turnout.fairshare import Shares


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    owner: str  # the caller's gateway key id ("" on an open gateway)
    expires: float  # epoch seconds
    items: bytes | None = None  # a JSON array of input + output items (translated upstreams)
    response: bytes | None = None  # the response object as the client got it (GET)
    deployment: str | None = None  # a pin: the deployment that answered (passthrough)
    key_id: str | None = None  # a pin: the provider key id that answered

    def size(self) -> int:
        return len(self.items or b"") + len(self.response or b"") + 256


class ConversationStore(Protocol):
    async def get(self, response_id: str, owner: str) -> Record | None: ...
    async def put(self, record: Record) -> None: ...
    async def delete(self, response_id: str, owner: str) -> bool: ...


class MemoryConversationStore:
    """In-process, bounded by ``max_entries`` and ``max_bytes``. Past a bound, the owner
    holding the most (records past the count, bytes past the size) loses its oldest record:
    one key storing responses in a loop pushes out its own, never another key's conversations
    (before, the oldest left first whoever held them, and the other keys' follow-ups were
    refused with ``previous_response_not_found``)."""

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._records: dict[str, Record] = {}
        # Who holds which records, oldest first, and their bytes: whom a bound takes from.
        self._held: Shares[str] = Shares(sized=True)

    async def get(self, response_id: str, owner: str) -> Record | None:
        record = self._records.get(response_id)
        if record is None:
            return None
        if record.expires <= time.time():
            self._drop(response_id)
            return None
        return record if record.owner == owner else None

    async def put(self, record: Record) -> None:
        self._drop(record.id)
        self._records[record.id] = record
        held = self._held
        held.add(record.id, record.owner, record.size())
        while self._records and (
            len(self._records) > self.max_entries or held.bytes > self.max_bytes
        ):
            self._drop(held.victim(by_bytes=held.bytes > self.max_bytes)[0])

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        self._drop(response_id)
        return True

    def _drop(self, response_id: str) -> None:
        old = self._records.pop(response_id, None)
        if old is not None:
            self._held.remove(response_id, old.owner)

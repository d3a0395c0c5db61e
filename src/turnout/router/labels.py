"""Quality labels of answers, keyed by request id, in the request log's database.

Two sources write them: applications through ``POST /v1/feedback`` (source ``feedback``, or
``feedback:<key id>`` when a gateway key sent it) and the LLM-as-judge labeller (source
``judge:<model>``). One label per request and source; a later one from the same source
replaces it (a user changing a thumbs-down to a thumbs-up). The export joins them with the
request log and the captured prompts, and counts a key's feedback only on that key's own
requests: another tenant who learns a request id can neither replace the rating nor add one
that trains the router.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.storage.sql.tables import route_labels

FEEDBACK = "feedback"
MAX_DETAIL = 1000


def feedback_source(key_id: str | None) -> str:
    """The source of feedback sent by ``key_id`` (None or the master key: the operator's)."""
    return FEEDBACK if key_id is None or key_id == "master" else f"{FEEDBACK}:{key_id}"


def is_feedback(source: str) -> bool:
    return source == FEEDBACK or source.startswith(FEEDBACK + ":")


def feedback_on(source: str, key_id: str | None) -> bool:
    """Whether feedback of ``source`` counts for a request made with ``key_id``: the
    operator's always, a key's only on its own requests."""
    return source == FEEDBACK or (key_id is not None and source == f"{FEEDBACK}:{key_id}")


_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Label:
    request_id: str
    source: str
    score: float
    ts: datetime
    detail: str | None = None


class LabelStore(Protocol):
    async def put(self, labels: Sequence[Label]) -> None: ...

    async def get(self, request_ids: Iterable[str]) -> dict[str, list[Label]]: ...

    async def trim(self, source: str, keep: int) -> int:
        """Keep the newest ``keep`` labels of ``source``; the number removed."""
        ...

    async def close(self) -> None: ...


class MemoryLabelStore:
    """For ``storage.url: memory://`` (tests, demos): lost at exit."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._labels: dict[tuple[str, str], Label] = {}

    async def put(self, labels: Sequence[Label]) -> None:
        for label in labels:
            key = (label.request_id, label.source)
            self._labels.pop(key, None)
            if len(self._labels) >= self.capacity:
                del self._labels[next(iter(self._labels))]
            self._labels[key] = label

    async def get(self, request_ids: Iterable[str]) -> dict[str, list[Label]]:
        wanted = set(request_ids)
        out: dict[str, list[Label]] = {}
        for (rid, _), label in self._labels.items():
            if rid in wanted:
                out.setdefault(rid, []).append(label)
        return out

    async def trim(self, source: str, keep: int) -> int:
        mine = sorted((x.ts, k) for k, x in self._labels.items() if k[1] == source)
        gone = mine[: max(0, len(mine) - keep)]
        for _, k in gone:
            del self._labels[k]
        return len(gone)

    async def close(self) -> None:
        return None


class SqlLabelStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def put(self, labels: Sequence[Label]) -> None:
        if not labels:
            return
        values = [
            {
                "request_id": x.request_id,
                "source": x.source,
                "score": x.score,
                "ts": x.ts,
                "detail": x.detail,
            }
            for x in labels
        ]
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(route_labels)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(route_labels)  # type: ignore[assignment]
        stmt = stmt.on_conflict_do_update(
            index_elements=["request_id", "source"],
            set_={
                "score": stmt.excluded.score,
                "ts": stmt.excluded.ts,
                "detail": stmt.excluded.detail,
            },
        )
        async with self.engine.begin() as conn:
            for start in range(0, len(values), _CHUNK):
                await conn.execute(stmt, values[start : start + _CHUNK])

    async def get(self, request_ids: Iterable[str]) -> dict[str, list[Label]]:
        ids = sorted(set(request_ids))
        out: dict[str, list[Label]] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                result = await conn.execute(
                    select(route_labels).where(route_labels.c.request_id.in_(chunk))
                )
                for row in result:
                    ts = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=UTC)
                    out.setdefault(row.request_id, []).append(
                        Label(row.request_id, row.source, float(row.score), ts, row.detail)
                    )
        return out

    async def trim(self, source: str, keep: int) -> int:
        """Counted and deleted through the (source, ts) index: a range of one source."""
        t = route_labels
        async with self.engine.begin() as conn:
            count = select(func.count()).select_from(t).where(t.c.source == source)
            excess = int((await conn.execute(count)).scalar_one()) - keep
            if excess <= 0:
                return 0
            oldest = (
                select(t.c.request_id).where(t.c.source == source).order_by(t.c.ts).limit(excess)
            )
            gone = await conn.execute(
                delete(t).where(t.c.source == source, t.c.request_id.in_(oldest))
            )
            return int(gone.rowcount or 0)

    async def close(self) -> None:
        return None


def now() -> datetime:
    return datetime.now(UTC)

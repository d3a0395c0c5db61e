"""The learned-routing label store on every backend: upserts by (request id, source)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from turnout.router.labels import Label, MemoryLabelStore, SqlLabelStore

pytestmark = pytest.mark.asyncio(loop_scope="function")


def _label(rid: str, source: str, score: float, detail: str | None = None) -> Label:
    return Label(rid, source, score, datetime(2026, 3, 4, 5, 6, tzinfo=UTC), detail)


async def test_labels_upsert_and_read_back(backend: dict[str, Any]) -> None:
    engine = backend.get("engine")
    if engine is None:
        store: Any = MemoryLabelStore()
    else:
        store = SqlLabelStore(engine)
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM route_labels"))
    await store.put([_label("r1", "feedback", 0.0), _label("r1", "judge:j", 0.75, "Rating: [[7]]")])
    await store.put(
        [_label("r1", "feedback", 1.0, "changed my mind"), _label("r2", "feedback", 0.5)]
    )
    await store.put([_label(f"bulk{i}", "judge:j", 1.0) for i in range(1200)])  # past one chunk
    got = await store.get(["r1", "r2", "missing", *(f"bulk{i}" for i in range(1200))])
    r1 = {x.source: x for x in got["r1"]}
    assert r1["feedback"].score == 1.0 and r1["feedback"].detail == "changed my mind"
    assert r1["judge:j"].score == 0.75 and r1["judge:j"].detail == "Rating: [[7]]"
    assert r1["feedback"].ts == datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert [x.score for x in got["r2"]] == [0.5]
    assert "missing" not in got
    assert sum(1 for k in got if k.startswith("bulk")) == 1200


async def test_trim_keeps_a_sources_newest_labels_only(backend: dict[str, Any]) -> None:
    """A key's feedback is kept to its newest labels; other sources are never touched."""
    engine = backend.get("engine")
    if engine is None:
        store: Any = MemoryLabelStore()
    else:
        store = SqlLabelStore(engine)
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM route_labels"))

    def at(rid: str, source: str, minute: int) -> Label:
        return Label(rid, source, 1.0, datetime(2026, 3, 4, 5, minute, tzinfo=UTC))

    await store.put([at(f"k{i}", "feedback:key_a", i) for i in range(8)])
    await store.put([at("other", "feedback:key_b", 0), at("k0", "judge:j", 0)])
    assert await store.trim("feedback:key_a", 3) == 5
    assert await store.trim("feedback:key_a", 3) == 0
    got = await store.get([f"k{i}" for i in range(8)] + ["other"])
    kept = sorted(rid for rid, labels in got.items() for x in labels if x.source.endswith("_a"))
    assert kept == ["k5", "k6", "k7"]
    assert [x.source for x in got["other"]] == ["feedback:key_b"]
    assert [x.source for x in got["k0"]] == ["judge:j"]

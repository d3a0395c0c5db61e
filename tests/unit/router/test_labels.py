"""Feedback bodies, and the label store on SQLite and in memory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from turnout.errors import BadRequest
from turnout.router.feedback import parse_feedback
from turnout.router.labels import Label, MemoryLabelStore, SqlLabelStore
from turnout.storage.sql.engine import make_engine, migrate


def test_feedback_bodies() -> None:
    assert parse_feedback({"request_id": "r1", "score": 0.25}).score == 0.25
    up = parse_feedback({"request_id": "r1", "thumbs": "UP", "comment": "x" * 5000})
    assert (up.score, up.source, len(up.detail or "")) == (1.0, "feedback", 1000)
    assert parse_feedback({"request_id": "r1", "thumbs": "down"}).score == 0.0
    assert parse_feedback({"request_id": "r1", "score": 1}).score == 1.0


@pytest.mark.parametrize(
    "body",
    [
        {"score": 1},
        {"request_id": "", "score": 1},
        {"request_id": "r" * 201, "score": 1},
        {"request_id": 5, "score": 1},
        {"request_id": "r"},
        {"request_id": "r", "score": 1, "thumbs": "up"},
        {"request_id": "r", "score": 1.5},
        {"request_id": "r", "score": float("nan")},
        {"request_id": "r", "score": True},
        {"request_id": "r", "score": "0.5"},
        {"request_id": "r", "thumbs": "sideways"},
        {"request_id": "r", "thumbs": 1},
        {"request_id": "r", "score": 0.5, "comment": ["x"]},
    ],
)
def test_bad_feedback_is_a_400(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        parse_feedback(body)


def _label(rid: str, source: str, score: float) -> Label:
    return Label(rid, source, score, datetime(2026, 1, 2, tzinfo=UTC), None)


async def _exercise(store: Any) -> None:
    await store.put([_label("a", "feedback", 0.0), _label("a", "judge:j", 0.9)])
    await store.put([_label("a", "feedback", 1.0), _label("b", "feedback", 0.5)])
    got = await store.get(["a", "b", "c"])
    assert sorted((x.source, x.score) for x in got["a"]) == [("feedback", 1.0), ("judge:j", 0.9)]
    assert [x.score for x in got["b"]] == [0.5]
    assert "c" not in got
    assert got["a"][0].ts.tzinfo is not None


async def test_sqlite_store_upserts(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        await migrate(engine)
        await _exercise(SqlLabelStore(engine))
    finally:
        await engine.dispose()


async def test_memory_store_upserts_and_is_bounded() -> None:
    await _exercise(MemoryLabelStore())
    small = MemoryLabelStore(capacity=2)
    await small.put([_label(str(i), "feedback", 1.0) for i in range(5)])
    assert set(await small.get([str(i) for i in range(5)])) == {"3", "4"}

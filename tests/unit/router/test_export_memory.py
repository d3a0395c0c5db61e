"""``turnout router export`` over a long request log keeps only the rows it can use (those
with a capture), never the whole range: a month of a busy model's log is millions of rows."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from turnout.router.export import export
from turnout.storage.rows import COLUMNS, Row, new_id
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore

pytestmark = pytest.mark.asyncio(loop_scope="function")
ROWS = 40_000


def _rows(start: datetime) -> list[Row]:
    rows = []
    for i in range(ROWS):
        values: dict[str, Any] = {
            "ts": start + timedelta(milliseconds=i),
            "id": new_id(),
            "request_id": uuid.uuid4().hex,
            "gateway_key": "key_0001",
            "protocol": "openai",
            "operation": "chat",
            "model": "busy",
            "provider": "p",
            "deployment": "p/busy-up",
            "attempts": 1,
            "status": 200,
            "latency_ms": 120.0,
            "input_tokens": 10,
            "output_tokens": 20,
            "cost": 0.001,
            "stream": False,
            "cache_hit": False,
        }
        rows.append(tuple(values.get(c) for c in COLUMNS))
    return rows


async def test_an_export_holds_only_the_rows_it_can_use(tmp_path: Path) -> None:
    """Before: every row of the range was listed first (55 MB traced here), and only then
    filtered to the few with a capture (none here)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/log.db")
    try:
        await migrate(engine)
        start = datetime.now(UTC) - timedelta(hours=1)
        store = SqlLogStore(engine)
        rows = _rows(start)
        for i in range(0, ROWS, 5000):
            await store.insert(rows[i : i + 5000])
        del rows
        tracemalloc.start()
        try:
            out, stats = await export(
                engine, tmp_path / "captures", ["busy"], start, datetime.now(UTC)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert out == [] and stats["requests"] == ROWS and stats["no_capture"] == ROWS
        assert peak < 15 * 1024 * 1024, peak  # a page of rows at a time: 3 MB measured
    finally:
        await engine.dispose()

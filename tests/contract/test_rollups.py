"""The rollups behind the dashboard, the same tests on every backend: their sums equal the raw
rows' (the usage report), replays are counted once, and the migration sums rows already
stored. Memory computes from its rows; the SQL backends read the tables the writer fills."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from tests.contract.pg import asyncpg_url, fresh_database
from tests.contract.rows import BASE, dataset, row
from turnout.storage.memory import MemoryLogStore
from turnout.storage.query import UsageQuery
from turnout.storage.rollup import LATENCY, TTFT, bin_of
from turnout.storage.rows import COLUMNS, INDEX
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore
from turnout.storage.sql.tables import request_log
from turnout.storage.stats import SeriesQuery, overview, series_report

pytestmark = pytest.mark.asyncio(loop_scope="function")
START, END = (
    int((BASE - timedelta(days=1)).timestamp()),
    int((BASE + timedelta(days=3)).timestamp()),
)
SAME: tuple[str, ...] = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens")
SAME += ("reasoning_tokens", "cost_usd", "unpriced_requests")
TABLES = {
    "route_minute": ("model", "provider", "deployment", "all"),
    "route_hour": ("model", "provider", "deployment", "all"),
    "caller_hour": ("gateway_key", "team", "all"),
}
USAGE_GROUP = {"gateway_key": "key"}


async def _check_against_usage(logs: Any) -> None:
    """Every rollup table, every grouping: the summed groups equal the usage report's."""
    for table, groups in TABLES.items():
        step = 60 if table == "route_minute" else 3600
        for group in groups:
            query = SeriesQuery(table, group, START - START % 86400, END, step)
            report = await series_report(logs, query, limit=50)
            usage = await logs.usage(
                UsageQuery(
                    USAGE_GROUP.get(group, group),
                    BASE - timedelta(days=1),
                    BASE + timedelta(days=3),
                )
            )
            want = {
                (None if g.group is None else g.group if group != "all" else None): g.as_dict()
                for g in usage
            }
            got = {g["group"]: g["total"] for g in report["groups"]}
            assert set(got) == set(want), (table, group)
            for name, total in got.items():
                for field in SAME:
                    w = want[name][field]
                    assert total[field] == (pytest.approx(w) if isinstance(w, float) else w), (
                        table,
                        group,
                        name,
                        field,
                    )


async def test_rollups_equal_the_raw_rows(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert(dataset())
    await _check_against_usage(logs)


async def test_task_state_rows_are_not_counted_as_calls(backend: dict[str, Any]) -> None:
    """An A2A task's state-change rows repeat one call's caller and route: the rollups and
    the usage report leave them out, so both still agree on the calls alone."""
    logs = backend["logs"]
    rows = dataset()
    states = [
        row(i, protocol="a2a", operation="task.state", model="alpha", provider="p1",
            deployment="p1/up", gateway_key="gk-1", input_tokens=None, output_tokens=None,
            cached_tokens=None, reasoning_tokens=None, cost=None, latency_ms=5000.0,
            task_id="t-1", bytes_out=90, task_state=state)
        for i, state in enumerate(("submitted", "working", "completed"))
    ]  # fmt: skip
    await logs.insert(rows + states)
    await _check_against_usage(logs)
    everything = await logs.usage(
        UsageQuery("all", BASE - timedelta(days=1), BASE + timedelta(days=3))
    )
    assert everything[0].as_dict()["requests"] == len(rows)
    points = await logs.histogram(START, END, 86400 * 7)
    assert sum(p.count for p in points if p.metric == LATENCY) == len(rows)


async def test_replays_are_counted_once(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows[:30])
    assert await logs.insert_again(rows[20:]) == 10
    assert await logs.insert_again(rows) == 0
    for one in rows[:5]:
        assert await logs.insert_again([one]) == 0
    await _check_against_usage(logs)


async def test_histograms_count_every_latency_in_its_bin(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows)
    points = await logs.histogram(START, END, 60)
    want: dict[tuple[int, int, int], int] = {}
    for r in rows:
        minute = int(r[INDEX["ts"]].timestamp()) // 60 * 60
        for metric, column in ((LATENCY, "latency_ms"), (TTFT, "ttft_ms")):
            value = r[INDEX[column]]
            if value is not None:
                key = (minute, metric, bin_of(value))
                want[key] = want.get(key, 0) + 1
    assert {(p.bucket, p.metric, p.bin): p.count for p in points} == want


async def test_series_are_dense_and_bucketed_by_step(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    # 3 rows in the first minute, 2 in the third; two models
    await logs.insert([row(0), row(10, model="beta"), row(59), row(125), row(130, model="beta")])
    start = int(BASE.timestamp())
    report = await series_report(logs, SeriesQuery("route_minute", "model", start, start + 300, 60))
    assert report["buckets"] == [start + 60 * i for i in range(5)]
    by_group = {g["group"]: g["series"]["requests"] for g in report["groups"]}
    assert by_group == {"alpha": [2, 0, 1, 0, 0], "beta": [1, 0, 1, 0, 0]}
    assert report["total"]["requests"] == 5
    wide = await series_report(logs, SeriesQuery("route_minute", "all", start, start + 300, 300))
    assert wide["groups"][0]["series"]["requests"] == [5]


async def test_many_groups_are_cut_to_the_top_and_the_rest(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = [row(i, model=f"m{i % 6}") for i in range(60)] + [row(61, model="m0")]
    await logs.insert(rows)
    start = int(BASE.timestamp())
    report = await series_report(
        logs, SeriesQuery("route_hour", "model", start - start % 3600, start + 3600, 3600), limit=3
    )
    names = [g["group"] for g in report["groups"]]
    assert names == ["m0", "m1", "(other)"]
    assert [g["total"]["requests"] for g in report["groups"]] == [11, 10, 40]


async def test_overview_reads_the_last_minutes_and_spend(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    now = BASE + timedelta(minutes=10, seconds=30)
    rows = [row(600 + i, latency_ms=100.0 + i, ttft_ms=20.0, cost=0.5) for i in range(10)]
    rows += [row(30, status=500, error="server_error", cost=None, input_tokens=None)]
    rows += [row(-86400 * 2, cost=7.0)]  # two days before: this month, not today
    await logs.insert(rows)
    got = await overview(logs, now, window=3600)
    assert len(got["buckets"]) == 60 and got["buckets"][-1] == int(BASE.timestamp()) + 600
    assert sum(got["series"]["requests"]) == 11 and got["series"]["errors"][-11] == 1
    current = got["current"]
    assert current["requests"] == 10 and current["errors"] == 0
    assert current["latency_p50"] == pytest.approx(104, rel=0.1)
    assert current["ttft_p95"] == pytest.approx(20, rel=0.1)
    assert got["spend"]["today"]["cost_usd"] == pytest.approx(5.0)
    assert got["spend"]["month"]["cost_usd"] == pytest.approx(12.0)


async def test_rollups_follow_retention(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert([row(0), row(3600 * 5)])
    await logs.prune(BASE + timedelta(hours=2), batch=100)
    report = await series_report(
        logs, SeriesQuery("route_hour", "all", START - START % 3600, END, 3600)
    )
    assert report["total"]["requests"] == 1


async def _migrated_from_old_rows(url: str) -> None:
    """Rows stored before the rollups existed are summed by the migration that adds them."""
    engine = make_engine(url)
    try:
        await migrate(engine, "b7d4e1f09a2c")
        rows = dataset()
        if engine.dialect.name == "postgresql":
            from turnout.storage.sql import partitions

            await partitions.ensure(engine, 3, today=BASE.date() - timedelta(days=1))
        async with engine.begin() as conn:
            # later revisions' columns
            later = ("guardrails", "task_id", "bytes_in", "bytes_out", "task_state")
            old = [c for c in COLUMNS if c not in later]
            await conn.execute(
                insert(request_log),
                [{c: v for c, v in zip(COLUMNS, r, strict=True) if c in old} for r in rows],
            )
        await migrate(engine)
        logs = SqlLogStore(engine)
        reference = MemoryLogStore()
        await reference.insert(rows)
        await _check_against_usage(logs)
        for table, groups in TABLES.items():
            step = 60 if table == "route_minute" else 3600
            for group in groups:
                query = SeriesQuery(table, group, START - START % 86400, END, step)
                got = sorted((p.bucket, p.group, p.values) for p in await logs.series(query))
                want = sorted((p.bucket, p.group, p.values) for p in await reference.series(query))
                assert [g[:2] for g in got] == [w[:2] for w in want]
                for (_, _, a), (_, _, b) in zip(got, want, strict=True):
                    assert a == pytest.approx(b)
        hist = sorted(
            await logs.histogram(START, END, 60), key=lambda p: (p.bucket, p.metric, p.bin)
        )
        ref = sorted(
            await reference.histogram(START, END, 60), key=lambda p: (p.bucket, p.metric, p.bin)
        )
        assert hist == ref
    finally:
        await engine.dispose()


async def test_migration_sums_rows_already_stored_on_sqlite(tmp_path: Path) -> None:
    await _migrated_from_old_rows(f"sqlite+aiosqlite:///{tmp_path}/old.db")


async def test_migration_sums_rows_already_stored_on_postgres() -> None:
    with fresh_database("syrollup") as dsn:
        await _migrated_from_old_rows(asyncpg_url(dsn))

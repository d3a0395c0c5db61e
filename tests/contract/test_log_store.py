"""The request-log port, the same tests on every backend (memory is the reference)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.contract.rows import BASE, dataset, row
from turnout.storage.memory import MemoryLogStore
from turnout.storage.query import GROUPS, Cursor, LogQuery, UsageQuery
from turnout.storage.rows import ID

pytestmark = pytest.mark.asyncio(loop_scope="function")
WHOLE = (BASE - timedelta(days=1), BASE + timedelta(days=3))


async def test_insert_and_replay_store_each_row_once(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows[:30])
    assert await logs.insert_again(rows[20:]) == 10  # 20..29 already there
    assert await logs.insert_again(rows) == 0
    assert await logs.count() == 40


async def test_usage_matches_the_reference_for_every_grouping(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    reference = MemoryLogStore()
    rows = dataset()
    await logs.insert(rows)
    await reference.insert(rows)
    for group in GROUPS:
        query = UsageQuery(group, *WHOLE)
        got = [g.as_dict() for g in await logs.usage(query)]
        want = [g.as_dict() for g in await reference.usage(query)]
        assert got == want, group


async def test_usage_numbers(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert(dataset())
    [total] = await logs.usage(UsageQuery("all", *WHOLE))
    t = total.as_dict()
    assert t["requests"] == 40
    assert t["errors"] == 5  # four 500s and one stream that failed mid-way
    assert t["input_tokens"] == sum(100 + i for i in range(40) if i % 10 != 9)
    assert t["unpriced_requests"] == 4  # i % 10 == 7: tokens but no price
    priced = sum(0.01 * (i + 1) for i in range(40) if i % 10 not in (7, 9))
    assert t["cost_usd"] == pytest.approx(priced)
    assert t["latency_ms"] == {"p50": 20.0, "p90": 36.0, "p99": 40.0}
    days = {g.group: g.requests for g in await logs.usage(UsageQuery("day", *WHOLE))}
    assert days == {"2026-11-20": 30, "2026-11-21": 10}
    models = {g.group: g.requests for g in await logs.usage(UsageQuery("model", *WHOLE, "alpha"))}
    assert models == {"alpha": 20}


async def test_usage_window_is_half_open(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert([row(0), row(10), row(20)])
    [g] = await logs.usage(UsageQuery("all", BASE, BASE + timedelta(seconds=20)))
    assert g.requests == 2
    assert (
        await logs.usage(UsageQuery("all", BASE + timedelta(days=5), BASE + timedelta(days=6)))
        == []
    )


async def test_logs_pages_newest_first_through_cursors(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows)
    seen: list[str] = []
    cursor = None
    while True:
        page = await logs.logs(LogQuery(limit=7, cursor=cursor))
        seen.extend(r["id"] for r in page.rows)
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    newest_first = [r[ID] for r in sorted(rows, key=lambda r: r[0], reverse=True)]
    assert seen == newest_first


async def test_logs_filters_and_shapes_rows(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert(dataset())
    page = await logs.logs(LogQuery(filters={"model": "beta", "status": 500}, limit=100))
    assert {r["model"] for r in page.rows} == {"beta"} and len(page.rows) == 4
    first = page.rows[0]
    assert first["ts"].tzinfo is not None and first["stream"] is True
    assert first["input_tokens"] is None and first["cost"] is None
    keyed = await logs.logs(LogQuery(filters={"key_id": "k0", "gateway_key": "gk-2"}, limit=100))
    assert len(keyed.rows) == 10
    windowed = await logs.logs(LogQuery(start=BASE + timedelta(days=1), limit=100))
    assert len(windowed.rows) == 10


async def test_prune_removes_only_old_rows_in_batches(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    await logs.insert([row(i) for i in range(25)])
    assert await logs.prune(BASE + timedelta(seconds=12), batch=5) == 12
    assert await logs.count() == 13
    assert await logs.prune(BASE, batch=5) == 0


async def test_health_records_are_upserted_and_loaded(backend: dict[str, Any]) -> None:
    health = backend["health"]
    await health.save([{"kind": "key", "id": "p/m#abc", "state": "invalid", "until": None}])
    await health.save(
        [
            {"kind": "key", "id": "p/m#abc", "state": "active", "until": None},
            {"kind": "deployment", "id": "p/m", "state": "ejected", "until": 1.5e9},
        ]
    )
    loaded = sorted(await health.load(), key=lambda r: r["kind"])
    assert loaded == [
        {"kind": "deployment", "id": "p/m", "state": "ejected", "until": 1.5e9},
        {"kind": "key", "id": "p/m#abc", "state": "active", "until": None},
    ]
    await health.close()


async def test_logs_filter_on_every_dashboard_field(backend: dict[str, Any]) -> None:
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows)

    async def count(**kw: Any) -> int:
        page = await logs.logs(LogQuery(limit=100, **kw))
        return len(page.rows)

    assert await count(filters={"error": "server_error"}) == 4
    assert await count(filters={"stream": True}) == 20
    assert await count(filters={"protocol": "openai", "operation": "chat"}) == 40
    assert await count(filters={"deployment": "p2/up"}) == 14
    assert await count(filters={"cache_hit": False}) == 40
    assert await count(errors_only=True) == 5  # four 500s and a stream that failed mid-way
    assert await count(errors_only=True, filters={"model": "alpha"}) == 1


async def test_agent_and_tool_rows_keep_task_and_bytes(backend: dict[str, Any]) -> None:
    """Calls without tokens: an agent's task id and the bytes in and out round-trip, big
    counts included, and the task id filters; model rows leave them null."""
    logs = backend["logs"]
    big = 5 * 1024**3  # past 32 bits: a long stream's bytes
    agent = dict(protocol="a2a", operation="SendMessage", model="a2a/quick", input_tokens=None)
    await logs.insert(
        [
            row(1, **agent, task_id="task-1", bytes_in=120, bytes_out=big),
            row(2, **agent, task_id="task-1", bytes_in=80, bytes_out=300),
            row(3, **agent, task_id="task-2", bytes_in=1, bytes_out=2),
            row(4, protocol="mcp", operation="tools/call", bytes_in=10, bytes_out=20),
            row(5),
        ]
    )
    page = await logs.logs(LogQuery(filters={"task_id": "task-1"}, limit=100))
    assert [(r["bytes_in"], r["bytes_out"]) for r in page.rows] == [(80, 300), (120, big)]
    assert {r["task_id"] for r in page.rows} == {"task-1"}
    every = {r["protocol"] + r["operation"]: r for r in (await logs.logs(LogQuery())).rows}
    assert every["mcptools/call"]["task_id"] is None
    assert (every["mcptools/call"]["bytes_in"], every["mcptools/call"]["bytes_out"]) == (10, 20)
    model = every["openaichat"]
    assert (model["task_id"], model["bytes_in"], model["bytes_out"]) == (None, None, None)


async def test_task_state_rows_keep_their_state(backend: dict[str, Any]) -> None:
    """An A2A task's state changes are rows of their own (operation ``task.state``): the
    state round-trips, a task id lists its calls and state rows together, and the usage
    report counts the call only; other rows leave the column null."""
    logs = backend["logs"]
    agent = dict(protocol="a2a", model="a2a/slow", input_tokens=None, cost=None)
    await logs.insert(
        [
            row(1, **agent, operation="SendStreamingMessage", task_id="t-9", bytes_out=900),
            *(
                row(1 + i / 10, **agent, operation="task.state", task_id="t-9",
                    bytes_out=100 + i, task_state=state)
                for i, state in enumerate(("submitted", "working", "completed"), start=1)
            ),
            row(2),
        ]
    )  # fmt: skip
    page = await logs.logs(LogQuery(filters={"task_id": "t-9"}, limit=100))
    assert [(r["operation"], r["task_state"]) for r in page.rows] == [
        ("task.state", "completed"),
        ("task.state", "working"),
        ("task.state", "submitted"),
        ("SendStreamingMessage", None),
    ]
    only = await logs.logs(LogQuery(filters={"operation": "task.state"}, limit=100))
    assert [r["bytes_out"] for r in only.rows] == [103, 102, 101]
    usage = await logs.usage(UsageQuery("model", BASE, BASE + timedelta(minutes=1)))
    assert {g.group: g.as_dict()["requests"] for g in usage} == {"a2a/slow": 1, "alpha": 1}


async def test_a_bounded_scan_pages_through_sparse_matches(backend: dict[str, Any]) -> None:
    """With a filter no index serves, each page examines at most ``scan`` rows: it may end
    early (partial) with a cursor to go on from, and the pages together hold every match."""
    logs = backend["logs"]
    rows = dataset()
    await logs.insert(rows)
    want = [r["id"] for r in (await logs.logs(LogQuery(errors_only=True, limit=100))).rows]
    seen: list[str] = []
    partial = 0
    cursor = None
    for _ in range(50):
        page = await logs.logs(LogQuery(errors_only=True, limit=2, scan=8, cursor=cursor))
        seen.extend(r["id"] for r in page.rows)
        partial += page.partial
        assert len(page.rows) <= 2
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen == want and partial >= 1
    # Only indexed filters: no bound, a full page at once.
    page = await logs.logs(LogQuery(filters={"model": "beta"}, limit=15, scan=8))
    assert len(page.rows) == 15 and not page.partial

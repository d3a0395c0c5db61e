"""The bound on a call's state-change rows and the memory of tasks' last states."""

from __future__ import annotations

import time
from typing import Any

import pytest

from turnout.a2a.states import StateRows, TaskStates
from turnout.storage.rows import Row, as_dict
from turnout.types import Call


class Writer:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def put_many(self, rows: list[Row]) -> None:
        self.rows.extend(as_dict(r) for r in rows)


def call() -> Call:
    return Call(
        protocol="a2a",
        operation="SendStreamingMessage",
        model="a2a/w",
        body=b"",
        data={},
        stream=True,
        headers={},
        request_id="r-1",
        started=time.perf_counter(),
        deployment="a2a/w",
        key_id="k-1",
        team="red",
        status=200,
    )


def feed(limit: int, states: list[str], memory: TaskStates | None = None) -> Writer:
    writer = Writer()
    rows = StateRows("w", call(), memory or TaskStates(), writer, limit)  # type: ignore[arg-type]
    for i, state in enumerate(states):
        rows.seen("t-1", state, 10 + i)
    rows.close()
    return writer


def test_changes_only_in_order_with_the_calls_fields() -> None:
    got = feed(20, ["submitted", "working", "working", "completed"]).rows
    assert [r["task_state"] for r in got] == ["submitted", "working", "completed"]
    assert [r["bytes_out"] for r in got] == [10, 11, 13]
    first = got[0]
    assert (first["operation"], first["protocol"], first["model"]) == ("task.state", "a2a", "a2a/w")
    assert (first["gateway_key"], first["team"], first["request_id"]) == ("k-1", "red", "r-1")
    assert (first["task_id"], first["status"], first["provider"]) == ("t-1", 200, "a2a")
    assert first["error"] is None and first["bytes_in"] is None and first["cost"] is None


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_past_the_bound_the_last_state_is_written_with_the_count(limit: int) -> None:
    flips = ["submitted", "working"] * 10 + ["completed"]  # 21 changes
    got = feed(limit, flips).rows
    assert len(got) == limit
    assert [r["task_state"] for r in got[:-1]] == flips[: limit - 1]
    assert got[-1]["task_state"] == "completed"
    assert got[-1]["error"] == f"task_states_dropped:{len(flips) - limit}"


def test_exactly_the_bound_drops_nothing() -> None:
    got = feed(3, ["submitted", "working", "completed"]).rows
    assert [(r["task_state"], r["error"]) for r in got] == [
        ("submitted", None),
        ("working", None),
        ("completed", None),
    ]


def test_zero_writes_none() -> None:
    assert feed(0, ["submitted", "completed"]).rows == []


def test_a_later_call_writes_only_a_new_state() -> None:
    memory = TaskStates()
    assert len(feed(20, ["working"], memory).rows) == 1
    assert feed(20, ["working"], memory).rows == []  # a poll that found nothing new
    assert [r["task_state"] for r in feed(20, ["completed"], memory).rows] == ["completed"]


def test_the_memory_is_bounded() -> None:
    memory = TaskStates(capacity=2)
    for task in ("a", "b", "c"):
        assert memory.changed("w", task, "working")
    assert len(memory.last) == 2
    assert memory.changed("w", "a", "working")  # forgotten: written again
    assert not memory.changed("w", "c", "working")

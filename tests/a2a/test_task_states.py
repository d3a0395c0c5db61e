"""A task's state changes are request-log rows of their own (operation ``task.state``), with
the call's key, team, agent and task, the state in ``task_state``, the time since the call
began and the event's bytes; bounded per call (the agent's ``max_state_rows``)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)

from tests.a2a.conftest import new_key
from tests.a2a.rogue_agent import FLIPS
from tests.a2a.test_gateway import client_for, collect, message
from tests.a2a.test_log_columns import rows_of
from tests.support.procs import Proc
from tests.support.wait import until_async

STATES = "operation=task.state"


def oldest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["ts"], r["latency_ms"]))


async def test_a_streamed_task_leaves_one_row_per_state_change(a2a_gateway: Proc) -> None:
    """The worker streams submitted, six working updates and completed: three changes."""
    key, key_id = new_key(a2a_gateway, name="streamed-states")
    async with client_for(a2a_gateway, "worker", key) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("go"))))
    task_id = events[0].task.id
    call = rows_of(a2a_gateway, f"key={key_id}&operation=SendStreamingMessage", 1)[0]
    rows = oldest_first(rows_of(a2a_gateway, f"task_id={task_id}&{STATES}", 3))
    assert [r["task_state"] for r in rows] == ["submitted", "working", "completed"]
    for r in rows:
        assert r["gateway_key"] == key_id and r["model"] == "a2a/worker"
        assert r["protocol"] == "a2a" and r["task_id"] == task_id
        assert r["request_id"] == call["request_id"] and r["status"] == 200
        assert r["stream"] is True and r["error"] is None
        assert 0 < r["bytes_out"] < call["bytes_out"]  # one event of the stream
        assert r["input_tokens"] is None and r["cost"] is None
    latencies = [r["latency_ms"] for r in rows]
    assert latencies == sorted(latencies) and latencies[-1] <= call["latency_ms"]
    assert call["task_state"] is None  # the call's own row is not a state change
    # The task's rows together: the call and its state changes.
    together = rows_of(a2a_gateway, f"task_id={task_id}", 4)
    assert sorted(r["operation"] for r in together) == [
        "SendStreamingMessage",
        *["task.state"] * 3,
    ]


async def test_a_poll_that_sees_a_new_state_leaves_one_row(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="polled-states")
    async with client_for(a2a_gateway, "worker", key, streaming=False, polling=True) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("poll"))))
        task_id = events[0].task.id
        polls = 0

        async def completed() -> bool:
            nonlocal polls
            polls += 1
            got = await client.get_task(GetTaskRequest(id=task_id))
            return got.status.state == TaskState.TASK_STATE_COMPLETED

        await until_async(completed, limit=30, step=0.1)  # the worker's pace: about 2 s
        again = await client.get_task(GetTaskRequest(id=task_id))  # nothing new
        assert again.status.state == TaskState.TASK_STATE_COMPLETED
    calls = rows_of(a2a_gateway, f"key={key_id}&operation=GetTask&limit=1000", polls + 1)
    assert len(calls) == polls + 1
    rows = oldest_first(rows_of(a2a_gateway, f"task_id={task_id}&{STATES}", 2))
    states = [r["task_state"] for r in rows]
    assert states[-1] == "completed" and states.count("completed") == 1
    assert all(a != b for a, b in itertools.pairwise(states))  # changes only
    done = rows[-1]
    by_request = {c["request_id"]: c for c in calls}
    assert done["request_id"] in by_request  # the poll that saw it
    assert done["bytes_out"] == by_request[done["request_id"]]["bytes_out"]  # the answer's


async def test_a_cancel_leaves_the_canceled_state(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="cancelled-states")
    async with client_for(a2a_gateway, "worker", key, streaming=False, polling=True) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("stop"))))
        task_id = events[0].task.id
        cancelled = await client.cancel_task(CancelTaskRequest(id=task_id))
    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    cancel = rows_of(a2a_gateway, f"key={key_id}&operation=CancelTask", 1)[0]
    rows = oldest_first(rows_of(a2a_gateway, f"task_id={task_id}&{STATES}", 2))
    assert rows[-1]["task_state"] == "canceled"
    assert rows[-1]["request_id"] == cancel["request_id"]


async def test_a_resubscription_repeats_no_state_already_seen(a2a_gateway: Proc) -> None:
    """The caller leaves after the task's first event and resubscribes: the task event that
    opens the subscription writes its state only if it moved meanwhile, so each state is
    one row across both calls."""
    key, _ = new_key(a2a_gateway, name="resubscribed-states")
    async with client_for(a2a_gateway, "worker", key) as client:
        stream = client.send_message(SendMessageRequest(message=message("watch")))
        first = await anext(stream)
        task_id = first.task.id
        await cast(AsyncGenerator[StreamResponse], stream).aclose()
        rest = await collect(client.subscribe(SubscribeToTaskRequest(id=task_id)))
    assert rest[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    rows = oldest_first(rows_of(a2a_gateway, f"task_id={task_id}&{STATES}", 3))
    assert [r["task_state"] for r in rows] == ["submitted", "working", "completed"]
    assert len({r["request_id"] for r in rows}) == 2  # seen in the two calls
    together = rows_of(a2a_gateway, f"task_id={task_id}", 5)
    assert len(together) == 5  # two calls, three states


async def test_endless_state_flips_are_bounded(a2a_gateway: Proc) -> None:
    """A hostile agent flipping its task's state: at most ``max_state_rows`` rows (20 by
    default), the last one the state the task ended in, with the changes not written."""
    key, key_id = new_key(a2a_gateway, name="flipping")
    async with client_for(a2a_gateway, "rogue", key) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("flip"))))
    task_id = events[0].task.id
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    call = rows_of(a2a_gateway, f"key={key_id}&operation=SendStreamingMessage", 1)[0]
    assert call["error"] is None
    changes = 1 + FLIPS + 1  # working (the task), the flips, completed
    rows = oldest_first(rows_of(a2a_gateway, f"task_id={task_id}&{STATES}", 20))
    assert len(rows) == 20
    assert rows[-1]["task_state"] == "completed"
    assert rows[-1]["error"] == f"task_states_dropped:{changes - 20}"
    assert all(r["error"] is None for r in rows[:-1])
    assert len(rows_of(a2a_gateway, f"task_id={task_id}", 21)) == 21  # and the call's


def test_a_legacy_agents_states_are_spelled_alike(a2a_gateway: Proc) -> None:
    """An A2A 0.3 agent (``message/send``, ``kind``-tagged objects, ``input-required``): its
    task's state row says ``input-required``, as a 1.0 agent's ``TASK_STATE_INPUT_REQUIRED``
    would."""
    key, key_id = new_key(a2a_gateway, name="legacy-states")
    body = {
        "jsonrpc": "2.0",
        "id": "legacy-states",
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": str(uuid.uuid4()),
                "role": "user",
                "parts": [{"kind": "text", "text": "ask: anything"}],
            }
        },
    }
    resp = httpx.post(
        f"{a2a_gateway.url}/a2a/legacy",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["kind"] == "task" and result["status"]["state"] == "input-required"
    row = rows_of(a2a_gateway, f"key={key_id}&{STATES}", 1)[0]
    assert (row["task_id"], row["task_state"]) == (result["id"], "input-required")
    assert row["model"] == "a2a/legacy" and row["bytes_out"] == len(resp.content)

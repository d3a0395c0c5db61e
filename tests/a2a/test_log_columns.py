"""A2A calls are request-log rows with their task id and bytes in and out (/admin/logs)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from a2a.types.a2a_pb2 import SendMessageRequest

from tests.a2a.conftest import ADMIN, new_key
from tests.a2a.test_gateway import client_for, collect, message, rpc, send_params
from tests.a2a.test_reliability import raw_stream
from tests.support.procs import Proc


def rows_of(gw: Proc, query: str, count: int) -> list[dict[str, Any]]:
    """The rows a query finds, once there are ``count`` (the log is written in batches)."""
    deadline = time.monotonic() + 20
    while True:
        rows: list[dict[str, Any]] = httpx.get(
            f"{gw.url}/admin/logs?{query}", headers=ADMIN, timeout=10
        ).json()["rows"]
        if len(rows) >= count:
            return rows
        assert time.monotonic() < deadline, f"{len(rows)} rows for {query}, not {count}"
        time.sleep(0.05)


def test_a_task_and_its_bytes_are_on_the_row(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="columns")
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("task: x")}
    sent = orjson.dumps(payload)
    answer = httpx.post(
        f"{a2a_gateway.url}/a2a/quick",
        content=sent,
        headers={
            "authorization": f"Bearer {key}",
            "content-type": "application/json",
            "a2a-version": "1.0",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["result"]["task"]["id"]
    got = {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": task_id}}
    assert rpc(a2a_gateway, "quick", got, key).status_code == 200
    # The two calls, and the task's one state change (it completed at once; the poll found
    # it where it was).
    rows = rows_of(a2a_gateway, f"protocol=a2a&key={key_id}", 3)
    by_method = {r["operation"]: r for r in rows}
    send = by_method["SendMessage"]
    assert send["task_id"] == task_id
    assert send["bytes_in"] == len(sent)
    assert send["bytes_out"] == len(answer.content)
    assert by_method["GetTask"]["task_id"] == task_id
    # Every call of one task, found by its id.
    of_task = rows_of(a2a_gateway, f"task_id={task_id}", 3)
    assert sorted(r["operation"] for r in of_task) == ["GetTask", "SendMessage", "task.state"]
    state = by_method["task.state"]
    assert state["task_state"] == "completed" and state["request_id"] == send["request_id"]
    assert state["bytes_out"] == len(answer.content)


async def test_a_streamed_task_counts_the_bytes_relayed(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="streamed")
    async with client_for(a2a_gateway, "worker", key) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("go"))))
    task_id = events[0].task.id
    rows = rows_of(a2a_gateway, f"key={key_id}&operation=SendStreamingMessage", 1)
    row = rows[0]
    assert row["task_id"] == task_id and row["stream"] is True
    assert row["bytes_in"] > 0
    assert row["bytes_out"] > 6 * len("chunk 0;")  # six artifact events at least


def test_a_refused_call_names_the_task_it_asked_for(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="refused", models=["gpt-*"])
    payload = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t-asked"}}
    assert rpc(a2a_gateway, "quick", payload, key).status_code == 403
    row = rows_of(a2a_gateway, f"protocol=a2a&key={key_id}", 1)[0]
    assert row["status"] == 403 and row["task_id"] == "t-asked"
    assert row["bytes_out"] == 0


def test_a_cut_stream_still_counts_what_got_through(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="cut")
    data, clean = raw_stream(a2a_gateway, "cut", key)
    assert not clean and b"t-rogue" in data
    row = rows_of(a2a_gateway, f"protocol=a2a&key={key_id}&operation=SendStreamingMessage", 1)[0]
    assert row["error"].startswith("stream:") and row["task_id"] == "t-rogue"
    assert 0 < row["bytes_out"] < len(data)  # the agent's whole event, not the gateway's error

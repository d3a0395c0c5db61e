"""A task belongs to the key that opened it: another key allowed to call the same agent can
neither read, cancel, resubscribe to, continue nor list it (the gateway calls the agent with
its own credentials, so the agent cannot tell the keys apart). Real agent processes built with
the a2a-sdk; the caller that owns the task uses the SDK's client."""

from __future__ import annotations

import uuid

import pytest
from a2a.client import ClientCallContext
from a2a.types.a2a_pb2 import GetTaskRequest, SendMessageRequest, TaskState

from tests.a2a.conftest import MASTER, new_key
from tests.a2a.test_gateway import client_for, collect, message, rpc, send_params
from tests.support.procs import Proc

pytestmark = pytest.mark.timeout(120)


def call(gw: Proc, key: str, method: str, params: dict[str, object]) -> dict[str, object]:
    got = rpc(gw, "quick", {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}, key)
    assert got.status_code == 200, got.text
    body: dict[str, object] = got.json()
    return body


async def test_a_key_cannot_reach_another_keys_task(a2a_gateway: Proc) -> None:
    gw = a2a_gateway
    alice, _ = new_key(gw, name="task-owner")
    bob, _ = new_key(gw, name="task-neighbour")
    async with client_for(gw, "quick", alice, streaming=False) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("ask: x"))))
    task = events[0].task
    assert task.id and task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    # What the agent itself answers for a task that does not exist.
    unknown = call(gw, MASTER, "GetTask", {"id": str(uuid.uuid4())})
    assert isinstance(unknown["error"], dict) and unknown["error"]["code"] == -32001
    attempts: list[tuple[str, dict[str, object]]] = [
        ("GetTask", {"id": task.id}),
        ("CancelTask", {"id": task.id}),
        ("SubscribeToTask", {"id": task.id}),
        ("SendMessage", send_params("mine now", task.id)),
        ("ListTaskPushNotificationConfigs", {"taskId": task.id}),
        ("tasks/get", {"id": task.id}),
        ("GetTask", {"id": [task.id]}),  # another type the agent may read as the id
    ]
    for method, params in attempts:
        refused = call(gw, bob, method, params)
        assert isinstance(refused["error"], dict), (method, refused)
        assert refused["error"]["code"] == -32001, (method, refused)
        assert refused["error"]["message"] == "Task not found"
        assert "result" not in refused
    listed = call(gw, bob, "ListTasks", {})
    assert task.id not in str(listed)
    # Nothing reached the agent: the task is where its owner left it, and still listed for it.
    async with client_for(gw, "quick", alice, streaming=False) as client:
        mine = await client.get_task(GetTaskRequest(id=task.id), context=ClientCallContext())
    assert mine.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert "mine now" not in str(mine)  # no message of bob's reached it
    assert task.id in str(call(gw, alice, "ListTasks", {}))
    assert call(gw, MASTER, "GetTask", {"id": task.id}).get("result")  # the operator sees all


def send_in(text: str, context_id: object) -> dict[str, object]:
    """A message naming a context and no task: the agent would open a task in it."""
    params = send_params(text)
    message = params["message"]
    assert isinstance(message, dict)
    message["contextId"] = context_id
    return params


async def test_a_key_cannot_continue_another_keys_context(a2a_gateway: Proc) -> None:
    gw = a2a_gateway
    alice, _ = new_key(gw, name="context-owner")
    bob, _ = new_key(gw, name="context-neighbour")
    async with client_for(gw, "quick", alice, streaming=False) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("ask: x"))))
    context = events[0].task.context_id
    assert context
    attempts: list[tuple[str, dict[str, object]]] = [
        ("SendMessage", send_in("task: steal", context)),
        ("SendStreamingMessage", send_in("task: steal", context)),
        ("message/send", send_in("task: steal", context)),
        ("SendMessage", send_in("task: steal", [context])),  # another type the agent may read
        ("SendMessage", send_in("task: steal", str(uuid.uuid4()))),  # one never seen
    ]
    for method, params in attempts:
        refused = call(gw, bob, method, params)
        assert isinstance(refused["error"], dict), (method, refused)
        assert refused["error"]["code"] == -32602, (method, refused)
        assert "result" not in refused
    # Nothing reached the agent: alice's context still holds her task alone.
    listed = call(gw, MASTER, "ListTasks", {"contextId": context})
    assert events[0].task.id in str(listed) and "steal" not in str(listed)
    # Alice continues her own context (a new task in it) with the SDK's client; so may bob his.
    async with client_for(gw, "quick", alice, streaming=False) as client:
        more = await collect(
            client.send_message(
                SendMessageRequest(message=message("task: more", context_id=context))
            )
        )
    assert more[-1].task.context_id == context
    assert more[-1].task.status.state == TaskState.TASK_STATE_COMPLETED
    async with client_for(gw, "quick", bob, streaming=False) as client:
        own = await collect(client.send_message(SendMessageRequest(message=message("ask: b"))))
        own_context = own[0].task.context_id
        again = await collect(
            client.send_message(
                SendMessageRequest(message=message("task: b2", context_id=own_context))
            )
        )
    assert own_context != context and again[-1].task.context_id == own_context
    # The operator is not pinned.
    assert call(gw, MASTER, "SendMessage", send_in("task: operator", context)).get("result")

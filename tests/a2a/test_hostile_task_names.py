"""A task or context of another key, named in a spelling the agent's SDK reads too.

The a2a-sdk's servers read a request's fields by their JSON name (``taskId``) and by their
proto or Python name (``task_id``): protobuf's JSON parser and the 0.3 pydantic models accept
both. A message may also name tasks it refers to (``referenceTaskIds``), which the SDK can
load from its task store for the agent to read. Every one of those names a task (or context)
the calling key must hold; the agent (``tests/a2a/agent.py``, the SDK's server) is the judge
of what would have reached another key's task.
"""

from __future__ import annotations

import pytest
from a2a.types.a2a_pb2 import GetTaskRequest, SendMessageRequest, TaskState

from tests.a2a.conftest import new_key
from tests.a2a.test_gateway import client_for, collect, message, rpc, send_params
from tests.support.procs import Proc

pytestmark = pytest.mark.timeout(120)


def _message(text: str, **fields: object) -> dict[str, object]:
    params = send_params(text)
    msg = params["message"]
    assert isinstance(msg, dict)
    msg.update(fields)
    return params


async def test_another_spelling_names_the_same_task(a2a_gateway: Proc) -> None:
    gw = a2a_gateway
    alice, _ = new_key(gw, name="spelling-owner")
    bob, _ = new_key(gw, name="spelling-neighbour")
    async with client_for(gw, "quick", alice, streaming=False) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("ask: x"))))
    task = events[0].task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    tid, cid = task.id, task.context_id
    refused_task: list[tuple[str, dict[str, object]]] = [
        ("SendMessage", _message("bob was here", task_id=tid)),
        ("SendMessage", _message("bob was here", task_id=tid, context_id=cid)),
        ("SendStreamingMessage", _message("bob was here", task_id=tid)),
        ("SendMessage", _message("bob was here", referenceTaskIds=[tid])),
        ("SendMessage", _message("bob was here", reference_task_ids=["x", tid])),
        ("CreateTaskPushNotificationConfig", {"task_id": tid, "url": "https://example.com/"}),
        ("ListTaskPushNotificationConfigs", {"task_id": tid}),
        ("message/send", _message("bob was here", task_id=tid)),
    ]
    for method, params in refused_task:
        got = rpc(gw, "quick", {"jsonrpc": "2.0", "id": 3, "method": method, "params": params}, bob)
        assert got.status_code == 200, (method, got.text)
        error = got.json().get("error")
        assert isinstance(error, dict) and error["code"] == -32001, (method, params, got.text)
    for params in (_message("bob was here", context_id=cid),):
        got = rpc(
            gw, "quick", {"jsonrpc": "2.0", "id": 4, "method": "SendMessage", "params": params}, bob
        )
        error = got.json().get("error")
        assert isinstance(error, dict) and error["code"] == -32602, got.text
    # Nothing of bob's reached alice's task; her own spellings still work.
    async with client_for(gw, "quick", alice, streaming=False) as client:
        mine = await client.get_task(GetTaskRequest(id=tid))
    assert mine.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert "bob was here" not in str(mine)
    own = _message("alice again", task_id=tid, referenceTaskIds=[tid])
    got = rpc(
        gw, "quick", {"jsonrpc": "2.0", "id": 5, "method": "SendMessage", "params": own}, alice
    )
    assert "result" in got.json(), got.text
    # The task's message budget (3 on this agent) counts that spelling too: opened, two more.
    again = _message("alice, third", task_id=tid)
    got = rpc(
        gw, "quick", {"jsonrpc": "2.0", "id": 6, "method": "SendMessage", "params": again}, alice
    )
    assert got.status_code == 200, got.text  # relayed (what the agent makes of it is its own)
    past = _message("alice, fourth", task_id=tid)
    got = rpc(
        gw, "quick", {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": past}, alice
    )
    assert got.status_code == 429 and got.json()["error"]["code"] == -32029, got.text

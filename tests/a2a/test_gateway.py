"""The A2A gateway judged by the official a2a-sdk client: cards resolved through the gateway,
messages sent and streamed, tasks polled, cancelled and resubscribed, keys governed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.client import Client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetExtendedAgentCardRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)

from tests.a2a.conftest import ADMIN, AGENT_TOKEN, MASTER, new_key
from tests.support.procs import Proc


def message(text: str, task_id: str | None = None, context_id: str | None = None) -> Message:
    m = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if task_id:
        m.task_id = task_id
    if context_id:
        m.context_id = context_id
    return m


@contextlib.asynccontextmanager
async def client_for(
    gw: Proc, agent: str, key: str = MASTER, *, streaming: bool = True, polling: bool = False
) -> AsyncIterator[Client]:
    """The SDK's client, its card resolved through the gateway, the gateway key on every call."""
    http = httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=30)
    try:
        config = ClientConfig(httpx_client=http, streaming=streaming, polling=polling)
        yield await create_client(f"{gw.url}/a2a/{agent}", config)
    finally:
        await http.aclose()


async def collect(events: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [e async for e in events]


def rpc(gw: Proc, agent: str, payload: object, key: str = MASTER) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/a2a/{agent}",
        json=payload,
        headers={"authorization": f"Bearer {key}", "a2a-version": "1.0"},
        timeout=30,
    )


def send_params(text: str, task_id: str | None = None) -> dict[str, object]:
    msg: dict[str, object] = {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    }
    if task_id:
        msg["taskId"] = task_id
    return {"message": msg}


# -- cards and discovery -----------------------------------------------------------------------
def test_card_points_at_the_gateway_with_its_security(a2a_gateway: Proc) -> None:
    resp = httpx.get(
        f"{a2a_gateway.url}/a2a/worker/.well-known/agent-card.json", headers=ADMIN, timeout=10
    )
    assert resp.status_code == 200, resp.text
    card = resp.json()
    assert card["name"] == "worker"
    assert card["supportedInterfaces"] == [
        {
            "url": f"{a2a_gateway.url}/a2a/worker",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        }
    ]
    assert list(card["securitySchemes"]) == ["turnout"]  # the agent's own scheme is gone
    assert card["securityRequirements"] == [{"schemes": {"turnout": {"list": []}}}]


def test_card_needs_a_key(a2a_gateway: Proc) -> None:
    resp = httpx.get(f"{a2a_gateway.url}/a2a/quick/.well-known/agent-card.json", timeout=10)
    assert resp.status_code == 401
    body = resp.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == -32040


def test_discovery_lists_the_agents_a_key_may_use(a2a_gateway: Proc) -> None:
    key, _ = new_key(a2a_gateway, name="discovery")
    resp = httpx.get(
        f"{a2a_gateway.url}/a2a", headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert resp.status_code == 200, resp.text
    agents = {a["name"]: a for a in resp.json()["agents"]}
    assert "private" not in agents  # its keys and teams do not include this key
    assert agents["worker"]["description"] == "the long-running one"
    assert agents["worker"]["card"]["supportedInterfaces"][0]["url"].endswith("/a2a/worker")
    assert agents["down"]["card"] is None and agents["down"]["error"]
    everything = httpx.get(f"{a2a_gateway.url}/a2a", headers=ADMIN, timeout=30).json()
    assert "private" in {a["name"] for a in everything["agents"]}


# -- messages, streams, tasks --------------------------------------------------------------------
async def test_send_message_through_the_gateway(a2a_gateway: Proc) -> None:
    async with client_for(a2a_gateway, "quick", streaming=False) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("hi"))))
    assert len(events) == 1
    assert events[0].message.parts[0].text == "echo: hi"


async def test_stream_relays_every_status_update_and_artifact(
    a2a_gateway: Proc, worker_record: Path
) -> None:
    async with client_for(a2a_gateway, "worker") as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("go"))))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task"
    assert kinds.count("artifact_update") == 6
    chunks = [
        e.artifact_update.artifact.parts[0].text for e in events if e.HasField("artifact_update")
    ]
    assert chunks == [f"chunk {i};" for i in range(6)]
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    # The agent got the gateway's credentials for it, never the caller's gateway key.
    text = await asyncio.to_thread(worker_record.read_text)
    sent = [json.loads(line) for line in text.splitlines()]
    rpc_calls = [s for s in sent if s["path"] == "/rpc"]
    assert rpc_calls and all(
        s["headers"]["authorization"] == f"Bearer {AGENT_TOKEN}" for s in rpc_calls
    )
    assert all(MASTER not in json.dumps(s) for s in sent)


async def test_poll_and_cancel_a_task(a2a_gateway: Proc) -> None:
    async with client_for(a2a_gateway, "worker", streaming=False, polling=True) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("long"))))
        task = events[0].task
        assert task.id
        got = await client.get_task(GetTaskRequest(id=task.id))
        assert got.id == task.id
        assert got.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        cancelled = await client.cancel_task(CancelTaskRequest(id=task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.status.state == TaskState.TASK_STATE_CANCELED


async def test_resubscribe_to_a_running_task(a2a_gateway: Proc) -> None:
    async with client_for(a2a_gateway, "worker") as client:
        stream = client.send_message(SendMessageRequest(message=message("watch")))
        first = await anext(stream)
        task_id = first.task.id
        await cast(AsyncGenerator[StreamResponse], stream).aclose()  # the caller goes away
        rest = await collect(client.subscribe(SubscribeToTaskRequest(id=task_id)))
    assert rest, "the subscription gave nothing"
    assert rest[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    assert all(e.status_update.task_id == task_id for e in rest if e.HasField("status_update"))


# -- governance -----------------------------------------------------------------------------------
async def test_a_key_outside_the_agents_lists_gets_403(a2a_gateway: Proc) -> None:
    key, _ = new_key(a2a_gateway, name="outsider")
    resp = rpc(
        a2a_gateway,
        "private",
        {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": send_params("x")},
        key,
    )
    assert resp.status_code == 403
    body = resp.json()
    assert body["id"] == 7 and body["error"]["code"] == -32043
    client_http = httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=10)
    async with client_http:
        card = await client_http.get(f"{a2a_gateway.url}/a2a/private/.well-known/agent-card.json")
    assert card.status_code == 403


def test_a_team_on_the_list_may_call(a2a_gateway: Proc) -> None:
    r = httpx.post(
        f"{a2a_gateway.url}/admin/teams", headers=ADMIN, json={"name": "research"}, timeout=10
    )
    assert r.status_code in (201, 409), r.text
    key, _ = new_key(a2a_gateway, name="researcher", team="research")
    resp = rpc(
        a2a_gateway,
        "private",
        {"jsonrpc": "2.0", "id": "a", "method": "SendMessage", "params": send_params("hey")},
        key,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"]["message"]["parts"][0]["text"] == "echo: hey"


def test_agent_rpm_limits_each_key(a2a_gateway: Proc) -> None:
    key, _ = new_key(a2a_gateway, name="rpm")
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("x")}
    statuses = [rpc(a2a_gateway, "limited", payload, key).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = rpc(a2a_gateway, "limited", payload, key)
    assert refused.json()["error"]["code"] == -32029
    assert "retry-after" in refused.headers
    other, _ = new_key(a2a_gateway, name="rpm-other")  # per key: another key is not limited
    assert rpc(a2a_gateway, "limited", payload, other).status_code == 200


def test_iteration_budget_stops_a_loop(a2a_gateway: Proc) -> None:
    first = rpc(
        a2a_gateway,
        "quick",
        {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("ask: loop")},
    )
    assert first.status_code == 200, first.text
    task = first.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    statuses = []
    for i in range(4):
        r = rpc(
            a2a_gateway,
            "quick",
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "SendMessage",
                "params": send_params("again", task["id"]),
            },
        )
        statuses.append(r.status_code)
    assert statuses == [200, 200, 429, 429]  # the opening message counted as the first of 3
    assert r.json()["error"]["data"]["type"] == "task_message_budget"


def test_push_notification_urls_go_through_the_outbound_policy(a2a_gateway: Proc) -> None:
    first = rpc(
        a2a_gateway,
        "quick",
        {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("ask: push")},
    )
    task_id = first.json()["result"]["task"]["id"]

    def create(url: str) -> httpx.Response:
        params = {"taskId": task_id, "url": url, "token": "t"}
        return rpc(
            a2a_gateway,
            "quick",
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "CreateTaskPushNotificationConfig",
                "params": params,
            },
        )

    refused = create("http://169.254.169.254/latest/meta-data")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == -32043
    allowed = create("http://127.0.0.1:9/callback")  # outbound.allow admits loopback here
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["result"]["url"] == "http://127.0.0.1:9/callback"


# -- reliability ----------------------------------------------------------------------------------
def test_an_agent_that_is_down_gives_a_jsonrpc_error(a2a_gateway: Proc) -> None:
    started = time.monotonic()
    resp = rpc(
        a2a_gateway,
        "down",
        {"jsonrpc": "2.0", "id": 5, "method": "SendMessage", "params": send_params("x")},
    )
    assert resp.status_code == 502
    body = resp.json()
    assert body["id"] is None or body["id"] == 5
    assert body["error"]["code"] == -32052
    assert time.monotonic() - started < 60  # bounded by the agent's timeouts, not hung


def test_malformed_requests_get_jsonrpc_errors(a2a_gateway: Proc) -> None:
    bad = httpx.post(f"{a2a_gateway.url}/a2a/quick", content=b"{nope", headers=ADMIN, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
    batch = httpx.post(f"{a2a_gateway.url}/a2a/quick", json=[], headers=ADMIN, timeout=10)
    assert batch.json()["error"]["code"] == -32600
    unknown = rpc(
        a2a_gateway, "nosuch", {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == -32044


@pytest.mark.parametrize("method", ["GetTask", "tasks/get"])
def test_agent_errors_are_relayed_faithfully(a2a_gateway: Proc, method: str) -> None:
    resp = rpc(
        a2a_gateway,
        "quick",
        {"jsonrpc": "2.0", "id": 9, "method": method, "params": {"id": "missing"}},
    )
    body = resp.json()
    assert body["id"] == 9 and "error" in body  # the agent's own answer, as it gave it


# -- logs -----------------------------------------------------------------------------------------
def test_calls_are_request_log_rows(a2a_gateway: Proc) -> None:
    key, key_id = new_key(a2a_gateway, name="logged")
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("log")}
    assert rpc(a2a_gateway, "quick", payload, key).status_code == 200
    deadline = time.monotonic() + 20
    while True:  # the request log is written in batches
        rows = httpx.get(
            f"{a2a_gateway.url}/admin/logs?protocol=a2a&key={key_id}", headers=ADMIN, timeout=10
        ).json()["rows"]
        if rows:
            break
        assert time.monotonic() < deadline, "no request-log row for the A2A call"
        time.sleep(0.05)
    row = rows[0]
    assert row["model"] == "a2a/quick" and row["operation"] == "SendMessage"
    assert row["status"] == 200 and row["provider"] == "a2a"


def test_a_keys_models_globs_are_its_agent_allow_list(a2a_gateway: Proc) -> None:
    only_models, _ = new_key(a2a_gateway, name="models-only", models=["gpt-*"])
    one_agent, _ = new_key(a2a_gateway, name="one-agent", models=["gpt-*", "a2a/quick"])
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("x")}
    assert rpc(a2a_gateway, "quick", payload, only_models).status_code == 403
    assert rpc(a2a_gateway, "quick", payload, one_agent).status_code == 200
    assert rpc(a2a_gateway, "worker", payload, one_agent).status_code == 403
    listed = httpx.get(
        f"{a2a_gateway.url}/a2a", headers={"authorization": f"Bearer {one_agent}"}, timeout=30
    ).json()
    assert [a["name"] for a in listed["agents"]] == ["quick"]


async def test_the_extended_card_is_rewritten_too(a2a_gateway: Proc) -> None:
    async with client_for(a2a_gateway, "worker", streaming=False) as client:
        card = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
    assert "secret" in [s.id for s in card.skills]  # the agent's extended card...
    assert [i.url for i in card.supported_interfaces] == [f"{a2a_gateway.url}/a2a/worker"]
    assert list(card.security_schemes) == ["turnout"]  # ...with the gateway's address and auth

"""An agent that quotes the gateway's credential to it never hands it to a caller.

The agent (``tests/a2a/hostile_agent.py``, the official a2a-sdk's server) echoes the
``Authorization`` it was sent in its card, its answers, every event of a stream and its
errors; the caller reads them with the SDK's client, and raw.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2a.types.a2a_pb2 import SendMessageRequest, TaskState
from a2a.utils.errors import InvalidParamsError

from tests.a2a.conftest import MASTER, gateway_config, new_key
from tests.a2a.test_gateway import client_for, collect, message
from tests.support.procs import PYTHON, Proc, free_port, start_gateway

TOKEN = "hostile-agent-credential-5f2a9c"


@pytest.fixture(scope="module")
def echo_agent() -> Iterator[Proc]:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    args = [PYTHON, "-m", "tests.a2a.hostile_agent", "--port", str(port), "--token", TOKEN]
    proc = Proc(args, port, "/healthz", cwd=root, env={"PYTHONPATH": str(root)}, ready_within=60)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(
    mock: Proc, echo_agent: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    agents = {"echo": {"url": echo_agent.url, "auth": {"type": "bearer", "token": TOKEN}}}
    proc = start_gateway(
        gateway_config(mock, agents),
        tmp_path_factory.mktemp("a2a-echo"),
        env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=60,
    )
    yield proc
    proc.stop()


def _send(gw: Proc, key: str, text: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": str(uuid.uuid4()),
                "role": "ROLE_USER",
                "parts": [{"text": text}],
            }
        },
    }
    headers = {"authorization": f"Bearer {key}", "a2a-version": "1.0"}
    return httpx.post(f"{gw.url}/a2a/echo", json=body, headers=headers, timeout=30)


def test_a_quoted_credential_never_reaches_a_raw_caller(gateway: Proc) -> None:
    key, _ = new_key(gateway, name="echo-raw")
    card = httpx.get(
        f"{gateway.url}/a2a/echo/.well-known/agent-card.json",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert card.status_code == 200
    assert TOKEN not in card.text and "[redacted]" in card.json()["description"]
    # The same JSON spelt with escapes (``\\u002d`` for ``-``) is masked too.
    for text in ("hi", "fail", "escaped"):
        raw = _send(gateway, key, text)
        assert TOKEN not in raw.text and TOKEN not in str(raw.json()), text
        assert "[redacted]" in raw.text, text


async def test_a_quoted_credential_never_reaches_the_sdk_client(gateway: Proc) -> None:
    key, _ = await asyncio.to_thread(new_key, gateway, name="echo-sdk")
    async with client_for(gateway, "echo", key, streaming=False) as client:
        answer = await collect(client.send_message(SendMessageRequest(message=message("hi"))))
        assert answer[0].message.parts[0].text == "you sent Bearer [redacted]"
        with pytest.raises(InvalidParamsError) as failed:
            await collect(client.send_message(SendMessageRequest(message=message("fail"))))
        assert TOKEN not in str(failed.value) and "[redacted]" in str(failed.value)

    async with client_for(gateway, "echo", key) as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("stream"))))
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    texts = [
        e.status_update.status.message.parts[0].text
        for e in events
        if e.HasField("status_update") and e.status_update.status.HasField("message")
    ]
    assert texts == [f"step {i}: Bearer [redacted]" for i in range(3)] + ["done: Bearer [redacted]"]


def test_a_card_of_both_versions_names_only_the_gateway(gateway: Proc, echo_agent: Proc) -> None:
    """The SDK serves a card offering 1.0 and 0.3 with both versions' fields; a 0.3 client
    reads ``url`` and ``additionalInterfaces``. Every one must be the gateway's."""
    key, _ = new_key(gateway, name="card-reader")
    got = httpx.get(
        f"{gateway.url}/a2a/echo/.well-known/agent-card.json",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    card = got.json()
    assert str(echo_agent.port) not in got.text, card
    mine = f"{gateway.url}/a2a/echo"
    assert card["url"] == mine and card["preferredTransport"] == "JSONRPC"
    assert [i["url"] for i in card.get("additionalInterfaces", [])] in ([], [mine])
    assert [i["url"] for i in card["supportedInterfaces"]] == [mine]

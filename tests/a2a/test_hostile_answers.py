"""What an agent's answer may carry to a caller: its JSON-RPC and the protocol's own headers,
never a redirect, an impossible status, or headers meant for browsers and proxies.

The rogue agent (``tests/a2a/rogue_agent.py``, raw: the SDK's server cannot answer this way)
answers with the status asked for and a cookie, a ``location``, ``clear-site-data``, CORS
headers and a year-long public cache policy, its JSON served as ``text/html``.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from a2a.types.a2a_pb2 import SendMessageRequest, TaskState

from tests.a2a.conftest import MASTER
from tests.a2a.test_gateway import client_for, collect, message
from tests.support.procs import Proc

REFUSED = (
    "set-cookie",
    "location",
    "clear-site-data",
    "access-control-allow-origin",
    "access-control-allow-credentials",
)


def _send(gw: Proc, text: str, method: str = "SendMessage") -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": method,
        "params": {
            "message": {
                "messageId": str(uuid.uuid4()),
                "role": "ROLE_USER",
                "parts": [{"text": text}],
            }
        },
    }
    headers = {"authorization": f"Bearer {MASTER}", "a2a-version": "1.0"}
    return httpx.post(f"{gw.url}/a2a/rogue", json=body, headers=headers, timeout=30)


def _clean(resp: httpx.Response) -> None:
    for name in REFUSED:
        assert name not in resp.headers, (name, resp.headers)
    assert "public" not in resp.headers.get("cache-control", "")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 600, 999])
def test_a_redirect_or_an_impossible_status_is_a_jsonrpc_error(
    a2a_gateway: Proc, status: int
) -> None:
    resp = _send(a2a_gateway, f"status {status}")
    assert resp.status_code == 502, resp.text
    error = resp.json()["error"]
    assert error["code"] in (-32006, -32052) and resp.json()["id"] == 7
    assert error["data"]["status"] == 502
    _clean(resp)


@pytest.mark.parametrize("status", [200, 400, 500])
def test_an_answer_keeps_none_of_the_browser_and_proxy_headers(
    a2a_gateway: Proc, status: int
) -> None:
    resp = _send(a2a_gateway, f"status {status}")
    assert resp.status_code == status
    assert resp.json()["result"]["message"]["parts"][0]["text"] == "ok"
    assert resp.headers["content-type"] == "application/json"  # it was read as JSON-RPC
    _clean(resp)


def test_a_stream_keeps_none_of_them_either(a2a_gateway: Proc) -> None:
    with httpx.stream(
        "POST",
        f"{a2a_gateway.url}/a2a/rogue",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendStreamingMessage",
            "params": {
                "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "headers"}]}
            },
        },
        headers={"authorization": f"Bearer {MASTER}", "a2a-version": "1.0"},
        timeout=30,
    ) as resp:
        body = resp.read()
    assert resp.status_code == 200 and b"TASK_STATE_COMPLETED" in body
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    _clean(resp)


async def test_the_sdk_client_reads_the_cleaned_answers(a2a_gateway: Proc) -> None:
    async with client_for(a2a_gateway, "rogue") as client:
        events = await collect(client.send_message(SendMessageRequest(message=message("headers"))))
    assert events[-1].task.status.state == TaskState.TASK_STATE_COMPLETED
    async with client_for(a2a_gateway, "rogue", streaming=False) as client:
        answer = await collect(
            client.send_message(SendMessageRequest(message=message("status 200")))
        )
    assert answer[0].message.parts[0].text == "ok"

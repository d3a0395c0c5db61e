"""An A2A 0.3 agent behind OAuth 2.0 client credentials: its card keeps 0.3's shape with the
gateway's URL and security, and the SDK's 0.3 transport talks to it through the gateway."""

from __future__ import annotations

import uuid

import httpx
from a2a.client import ClientConfig, create_client
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest

from tests.a2a.conftest import ADMIN, MASTER, OAUTH_SECRET
from tests.support.procs import Proc


def test_a_legacy_card_is_served_in_its_own_shape(a2a_gateway: Proc) -> None:
    resp = httpx.get(
        f"{a2a_gateway.url}/a2a/legacy/.well-known/agent-card.json", headers=ADMIN, timeout=30
    )
    assert resp.status_code == 200, resp.text
    card = resp.json()
    assert card["url"] == f"{a2a_gateway.url}/a2a/legacy"
    assert card["protocolVersion"] == "0.3.0" and card["preferredTransport"] == "JSONRPC"
    assert card["securitySchemes"]["turnout"]["type"] == "http"
    assert card["security"] == [{"turnout": []}]
    assert "k" not in card["securitySchemes"]


def test_the_sdk_speaks_0_3_through_the_gateway(a2a_gateway: Proc) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": "legacy-1",
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": str(uuid.uuid4()),
                "role": "user",
                "parts": [{"kind": "text", "text": "old times"}],
            }
        },
    }
    resp = httpx.post(f"{a2a_gateway.url}/a2a/legacy", json=body, headers=ADMIN, timeout=30)
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["kind"] == "message" and result["parts"][0]["text"] == "echo: old times"


async def test_the_sdk_client_resolves_a_legacy_card(a2a_gateway: Proc) -> None:
    http = httpx.AsyncClient(headers={"authorization": f"Bearer {MASTER}"}, timeout=30)
    try:
        client = await create_client(
            f"{a2a_gateway.url}/a2a/legacy", ClientConfig(httpx_client=http, streaming=False)
        )
        message = Message(
            message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text="compat")]
        )
        events = [e async for e in client.send_message(SendMessageRequest(message=message))]
    finally:
        await http.aclose()
    assert events[0].message.parts[0].text == "echo: compat"


def test_the_oauth_secret_is_never_shown(a2a_gateway: Proc) -> None:
    listed = httpx.get(f"{a2a_gateway.url}/admin/agents", headers=ADMIN, timeout=10)
    assert OAUTH_SECRET not in listed.text
    legacy = next(a for a in listed.json()["agents"] if a["name"] == "legacy")
    assert legacy["auth"] == {"type": "oauth2"}

"""A key's MCP streams end when the key no longer stands as it did.

A key is checked when a request arrives, and MCP streams last as long as their client wants:
before (2026-12-08) a revoked key's ``subscriptions/listen`` stream and its session's
subscriptions went on delivering resource updates, a rotated key's old sessions served the new
secret's requests, and a key denied a resource kept hearing about it on the stream it held.
Now the key directory's changes end every request and session of a key whose secret, team or
MCP rules changed (``turnout/mcp/standing.py``).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp.client.subscriptions import ResourceUpdated

from tests.mcp_gateway.conftest import ADMIN
from tests.mcp_gateway.test_gateway import connect
from tests.mcp_gateway.test_listen import README
from tests.mcp_gateway.test_sessions import INIT, headers
from tests.support.procs import Proc
from tests.support.wait import until_async

pytestmark = pytest.mark.timeout(120)
LIST = {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}


def key(gw: Proc, name: str, **body: Any) -> tuple[str, str]:
    made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"name": name, **body})
    made.raise_for_status()
    return made.json()["key"], made.json()["id"]


async def touch(gw: Proc) -> None:
    async with connect(gw) as master:
        await master.call_tool("alpha__touch", {"uri": "note://alpha/readme"})


async def ended(sub: Any) -> list[Any]:
    """What a listen stream still delivers until it ends (by an error or its end)."""
    seen: list[Any] = []
    with anyio.fail_after(30):
        try:
            async for event in sub:
                seen.append(event)
        except Exception:  # cut by the gateway: over
            pass
    return seen


@pytest.mark.parametrize(
    "change",
    [
        ("DELETE", "", None),  # revoked
        ("POST", "/rotate", None),  # a new secret
        ("PATCH", "", {"metadata": {"mcp": {"deny": ["alpha+note://*"]}}}),  # denied it
    ],
)
async def test_a_listen_stream_ends_with_its_keys_standing(
    gw: Proc, change: tuple[str, str, Any]
) -> None:
    method, suffix, body = change
    secret, key_id = key(gw, f"listener-{method.lower()}")
    async with (
        connect(gw, key=secret) as client,
        client.listen(resource_subscriptions=[README]) as sub,
        httpx.AsyncClient(timeout=30) as http,
    ):
        assert sub.honored.resource_subscriptions == [README]  # served while the key stands
        url = f"{gw.url}/admin/keys/{key_id}{suffix}"
        changed = await http.request(method, url, headers=ADMIN, json=body)
        assert changed.status_code < 300, changed.text
        await touch(gw)  # nothing more reaches the stream: it ends
        assert not [e for e in await ended(sub) if isinstance(e, ResourceUpdated)]


async def test_a_rotated_keys_sessions_end(gw: Proc) -> None:
    """Sessions belong to the key that opened them; a new secret is the answer to a leaked
    one, so the sessions (and their subscriptions) opened with the old secret end too: the
    new secret is refused them as unknown sessions, and opens its own."""
    secret, key_id = key(gw, "rotated")
    async with httpx.AsyncClient(timeout=30) as http:
        opened = await http.post(gw.url + "/mcp", headers=headers(secret), json=INIT)
        session = {"mcp-session-id": opened.headers["mcp-session-id"]}
        session["mcp-protocol-version"] = "2025-06-18"
        ready = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(gw.url + "/mcp", headers=headers(secret, **session), json=ready)
        listed = await http.post(gw.url + "/mcp", headers=headers(secret, **session), json=LIST)
        assert listed.status_code == 200, listed.text
        rotated = await http.post(f"{gw.url}/admin/keys/{key_id}/rotate", headers=ADMIN)
        fresh = rotated.json()["key"]

        async def gone() -> bool:
            again = await http.post(gw.url + "/mcp", headers=headers(fresh, **session), json=LIST)
            return again.status_code == 404

        await until_async(gone, limit=30)
    async with connect(gw, key=fresh) as client:  # the new secret opens sessions of its own
        assert (await client.list_tools()).tools

"""One key cannot take every MCP session: the SDK bounds a view's sessions (10,000, each kept
30 minutes unless deleted), so a key opening sessions in a loop used to lock every other key
out. Each key now holds at most ``PER_KEY`` at once; the official client of another key is
served as usual, and a session that ends makes room again."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.mcp_gateway.conftest import new_key
from tests.mcp_gateway.test_gateway import connect
from tests.support.procs import Proc
from turnout.mcp.sessions import PER_KEY

pytestmark = pytest.mark.timeout(120)

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "greedy", "version": "1"},
    },
}


def headers(key: str, **more: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {key}",
        "accept": "application/json, text/event-stream",
        **more,
    }


async def test_one_key_cannot_hold_every_session(gw: Proc) -> None:
    greedy = new_key(gw, name="greedy")
    gate = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=30) as http:

        async def opened() -> str:
            async with gate:
                got = await http.post(gw.url + "/mcp", headers=headers(greedy), json=INIT)
            assert got.status_code == 200, got.text
            return got.headers["mcp-session-id"]

        ids = await asyncio.gather(*(opened() for _ in range(PER_KEY)))
        try:
            refused = await http.post(gw.url + "/mcp", headers=headers(greedy), json=INIT)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == -32029
            assert "mcp-session-id" not in refused.headers
            # Another key is served as usual.
            async with connect(gw, key=new_key(gw, name="patient")) as client:
                assert (await client.list_tools()).tools
            # A session of the greedy key that ends makes room for one more.
            ended = await http.delete(
                gw.url + "/mcp", headers=headers(greedy, **{"mcp-session-id": ids.pop()})
            )
            assert ended.status_code == 200, ended.text
            again = await http.post(gw.url + "/mcp", headers=headers(greedy), json=INIT)
            assert again.status_code == 200, again.text
            ids.append(again.headers["mcp-session-id"])
        finally:
            for sid in ids:
                await http.delete(
                    gw.url + "/mcp", headers=headers(greedy, **{"mcp-session-id": sid})
                )

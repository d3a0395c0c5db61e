"""MCP servers added through the admin API are stored in the database: every replica sharing
it serves them, a restarted gateway still has them, and a delete removes them for good. Two
gateway processes on one SQLite file; the SDK's client as the judge."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mcp_gateway.conftest import (
    ADMIN,
    MASTER,
    gateway_config,
    servers,
    wait_for,
    wait_states,
)
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import Proc, start_gateway

HEADER_SECRET = "header-secret-" + secrets.token_hex(8)


def tools_of(gw: Proc) -> set[str]:
    async def listed() -> set[str]:
        async with connect(gw) as client:
            return {t.name for t in (await client.list_tools()).tools}

    return asyncio.run(listed())


def echo(gw: Proc, tool: str, text: str) -> list[str]:
    async def called() -> list[str]:
        async with connect(gw) as client:
            return texts(await client.call_tool(tool, {"text": text}))

    return asyncio.run(called())


def test_a_stored_server_survives_restarts_and_reaches_every_replica(
    mock: Proc, alpha: Proc, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    config = gateway_config(
        mock,
        {"beta": {"url": f"http://localhost:{alpha.port}/mcp"}},
        outbound={"allow": ["localhost"]},
        storage={"url": str(db), "flush_interval": 0.05},
    )
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    procs: list[Proc] = []

    def start(name: str) -> Proc:
        (tmp_path / name).mkdir()
        proc = start_gateway(config, tmp_path / name, env=env, ready_within=90)
        procs.append(proc)
        return proc

    try:
        a, b = start("a"), start("b")
        body: dict[str, Any] = {
            "name": "late",
            "url": f"http://localhost:{alpha.port}/mcp",
            "headers": {"x-upstream-secret": HEADER_SECRET},
        }
        added = httpx.post(a.url + "/admin/mcp/servers", headers=ADMIN, json=body, timeout=30)
        assert added.status_code == 201, added.text
        assert added.json()["source"] == "admin"
        assert HEADER_SECRET not in added.text
        wait_states(a, {"late": "up"})
        assert "late__echo" in tools_of(a)
        # The other replica polls the database and serves it too.
        wait_states(b, {"late": "up"})
        assert echo(b, "late__echo", "b") == ["alpha:b"]
        # Stored, its credentials sealed: never in the clear in the database.
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT body, sealed_keys FROM managed_entries WHERE kind = 'mcp_server'"
            ).fetchall()
        assert len(rows) == 1
        assert HEADER_SECRET not in rows[0][0] + rows[0][1]
        assert "x-upstream-secret" not in rows[0][0]

        # A restart on the same database: the server and its tools are still there.
        a.stop()
        a = start("a2")
        wait_states(a, {"late": "up", "beta": "up"})
        assert servers(a)["late"]["source"] == "admin"
        assert {"late__echo", "beta__echo"} <= tools_of(a)

        # The config file's servers stay the file's.
        assert httpx.delete(a.url + "/admin/mcp/servers/beta", headers=ADMIN).status_code == 409
        # A delete removes it here at once, from the replica, and for good.
        gone = httpx.delete(a.url + "/admin/mcp/servers/late", headers=ADMIN, timeout=30)
        assert gone.status_code == 200, gone.text
        assert "late" not in servers(a)
        wait_for(lambda: "late" not in servers(b), what="the replica dropping the server")
        assert httpx.delete(a.url + "/admin/mcp/servers/late", headers=ADMIN).status_code == 404
        b.stop()
        b = start("b2")
        wait_states(b, {"beta": "up"})
        assert "late" not in servers(b)
        assert not {n for n in tools_of(b) if n.startswith("late__")}
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
def no_secret_gateway(mock: Proc, alpha: Proc, tmp_path: Path) -> Any:
    config = gateway_config(mock, {}, outbound={"allow": ["localhost"]})
    proc = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=90)
    yield proc
    proc.stop()


def test_credentials_are_not_stored_without_a_secret_key(
    no_secret_gateway: Proc, alpha: Proc
) -> None:
    gw = no_secret_gateway
    body = {
        "name": "late",
        "url": f"http://localhost:{alpha.port}/mcp",
        "auth": {"type": "bearer", "token": HEADER_SECRET},
    }
    refused = httpx.post(gw.url + "/admin/mcp/servers", headers=ADMIN, json=body, timeout=30)
    assert refused.status_code == 400
    assert "TURNOUT_SECRET_KEY" in refused.json()["detail"]
    assert HEADER_SECRET not in refused.text
    # Without credentials nothing needs sealing: stored, and served from a gateway that had
    # no MCP server at all when it started.
    del body["auth"]
    added = httpx.post(gw.url + "/admin/mcp/servers", headers=ADMIN, json=body, timeout=30)
    assert added.status_code == 201, added.text
    wait_states(gw, {"late": "up"})

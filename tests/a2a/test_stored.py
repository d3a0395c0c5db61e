"""Agents added through ``/admin/agents`` are stored in the database: a restarted gateway on
the same SQLite file still serves them, a replica sharing it serves them too, their
credentials are sealed at rest, and a delete removes them for good. Gateways, agents and the
a2a-sdk client are real processes."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from a2a.types.a2a_pb2 import SendMessageRequest

from tests.a2a.conftest import AGENT_TOKEN, MASTER, admin, gateway_config
from tests.a2a.test_gateway import client_for, collect, message
from tests.support.procs import Proc, start_gateway


def agents_of(gw: Proc) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in admin(gw, "GET", "/admin/agents").json()["agents"]}


def echoed(gw: Proc, agent: str, text: str) -> str:
    """What the agent answers through the gateway, the SDK's client resolving its card."""

    async def send() -> str:
        async with client_for(gw, agent, streaming=False) as client:
            events = await collect(client.send_message(SendMessageRequest(message=message(text))))
        return str(events[0].message.parts[0].text)

    return asyncio.run(send())


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_stored_agent_survives_a_restart_and_reaches_a_replica(
    mock: Proc, quick_agent: Proc, worker_agent: Proc, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    config = gateway_config(
        mock, {"file-agent": {"url": quick_agent.url}}, storage={"url": str(db)}
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
        body = {"url": worker_agent.url, "auth": {"type": "bearer", "token": AGENT_TOKEN}}
        added = admin(a, "PUT", "/admin/agents/stored", json=body)
        assert added.status_code == 201, added.text
        assert added.json()["source"] == "admin"
        assert AGENT_TOKEN not in added.text
        quick = admin(a, "PUT", "/admin/agents/stored-quick", json={"url": quick_agent.url})
        assert quick.status_code == 201, quick.text
        assert echoed(a, "stored-quick", "here") == "echo: here"
        # The worker takes only the gateway's token for it: the sealed one was opened.
        card = httpx.get(
            f"{a.url}/a2a/stored/.well-known/agent-card.json",
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=30,
        )
        assert card.status_code == 200, card.text
        # The other replica polls the database and serves them too.
        wait_for(lambda: "stored-quick" in agents_of(b), "the replica to load the agents")
        assert agents_of(b)["stored"]["source"] == "admin"
        assert echoed(b, "stored-quick", "there") == "echo: there"
        # Stored with its credentials sealed: never in the clear in the database.
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT name, body, sealed_keys FROM managed_entries WHERE kind = 'agent'"
            ).fetchall()
        assert {r[0] for r in rows} == {"stored", "stored-quick"}
        assert all(AGENT_TOKEN not in r[1] + r[2] for r in rows)

        # A restart on the same database: the agents are still served.
        a.stop()
        a = start("a2")
        listed = agents_of(a)
        assert listed["stored"]["source"] == "admin"
        assert listed["file-agent"]["source"] == "config"
        assert echoed(a, "stored-quick", "again") == "echo: again"

        # The file's agents stay the file's; a delete removes a stored one for good.
        assert admin(a, "DELETE", "/admin/agents/file-agent").status_code == 409
        assert admin(a, "DELETE", "/admin/agents/stored-quick").status_code == 200
        assert "stored-quick" not in agents_of(a)
        wait_for(lambda: "stored-quick" not in agents_of(b), "the replica to drop the agent")
        assert admin(a, "DELETE", "/admin/agents/stored-quick").status_code == 404
        b.stop()
        b = start("b2")
        assert set(agents_of(b)) == {"file-agent", "stored"}
        gone = httpx.post(
            f"{b.url}/a2a/stored-quick",
            json={},
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=10,
        )
        assert gone.status_code == 404
    finally:
        for proc in procs:
            proc.stop()


def test_credentials_are_not_stored_without_a_secret_key(
    mock: Proc, quick_agent: Proc, tmp_path: Path
) -> None:
    config = gateway_config(mock, {})
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=90)
    try:
        body = {"url": quick_agent.url, "auth": {"type": "bearer", "token": AGENT_TOKEN}}
        refused = admin(gw, "PUT", "/admin/agents/sealed", json=body)
        assert refused.status_code == 400
        assert "TURNOUT_SECRET_KEY" in refused.text and AGENT_TOKEN not in refused.text
        assert "sealed" not in agents_of(gw)
        # The whole config it would make is checked too: a bad entry stores nothing.
        bad = admin(gw, "PUT", "/admin/agents/bad", json={"url": quick_agent.url, "x": 1})
        assert bad.status_code == 422
        plain = admin(gw, "PUT", "/admin/agents/plain", json={"url": quick_agent.url})
        assert plain.status_code == 201, plain.text
        again = admin(gw, "PUT", "/admin/agents/plain", json={"url": quick_agent.url})
        assert again.status_code == 200  # replaced
        assert echoed(gw, "plain", "ok") == "echo: ok"
    finally:
        gw.stop()

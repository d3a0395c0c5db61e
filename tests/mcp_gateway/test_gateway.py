"""The MCP gateway through real processes, judged by the official ``mcp`` SDK's client.

Three upstream servers built with the SDK (Streamable HTTP, legacy HTTP+SSE, stdio) and one
that never answers sit behind one gateway; the SDK's client talks to ``/mcp`` and
``/mcp/{server}`` in both protocol eras (the handshake one and 2026-07-28).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import ADMIN, MASTER, servers
from tests.support.procs import PYTHON, Proc


@asynccontextmanager
async def connect(
    gw: Proc, path: str = "/mcp", key: str = MASTER, mode: Any = "auto"
) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(gw.url + path, http_client=http), mode=mode) as c:
        yield c


def texts(result: types.CallToolResult) -> list[str]:
    return [c.text for c in result.content if isinstance(c, types.TextContent)]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_aggregate_namespaces_every_transport(gw: Proc, mode: str) -> None:
    async with connect(gw, mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        for server in ("alpha", "beta", "gamma"):
            assert {f"{server}__echo", f"{server}__only_{server}"} <= names
            answer = await client.call_tool(f"{server}__echo", {"text": "hi"})
            assert texts(answer) == [f"{server}:hi"]
        assert not any(n.startswith("dead__") for n in names)  # down: nothing listed
        # Each name is reachable only under its own server's prefix.
        assert "alpha__only_beta" not in names
        with pytest.raises(MCPError):
            await client.call_tool("alpha__only_beta", {})


async def test_one_server_under_its_own_path_keeps_its_names(gw: Proc) -> None:
    async with connect(gw, "/mcp/beta") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"echo", "add", "only_beta"} <= names
        assert texts(await client.call_tool("add", {"a": 2, "b": 3})) == ["5"]
        uris = [r.uri for r in (await client.list_resources()).resources]
        assert uris == ["note://beta/readme"]
        read = await client.read_resource("greeting://ann")
        assert read.contents[0].text == "hello ann from beta"  # type: ignore[union-attr]
    async with httpx.AsyncClient() as http:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        reply = await http.post(gw.url + "/mcp/nosuch", headers=ADMIN, json=ping)
    assert reply.status_code == 404


async def test_integers_beyond_64_bits_pass_through(gw: Proc) -> None:
    """JSON has no integer limit and the SDK keeps big ones exact: a tool's arguments and
    result holding 10**30 were an internal error (the gateway measured them with orjson)."""
    async with connect(gw, "/mcp/beta") as client:
        answer = await client.call_tool("add", {"a": 10**30, "b": 1})
    assert texts(answer) == [str(10**30 + 1)]
    async with httpx.AsyncClient() as http:
        usage = (await http.get(gw.url + "/admin/mcp/usage", headers=ADMIN, timeout=10)).json()
    [row] = [r for r in usage["usage"] if r["server"] == "beta" and r["tool"] == "add"]
    assert row["errors"] == 0 and row["bytes_in"] > 0 and row["bytes_out"] > 0


async def test_resources_templates_and_prompts_through_the_aggregate(gw: Proc) -> None:
    async with connect(gw) as client:
        uris = {r.uri for r in (await client.list_resources()).resources}
        assert {"alpha+note://alpha/readme", "gamma+note://gamma/readme"} <= uris
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        assert "gamma+greeting://{who}" in templates
        static = await client.read_resource("alpha+note://alpha/readme")
        assert static.contents[0].uri == "alpha+note://alpha/readme"
        assert static.contents[0].text == "readme of alpha"  # type: ignore[union-attr]
        made = await client.read_resource("gamma+greeting://bo")
        assert made.contents[0].text == "hello bo from gamma"  # type: ignore[union-attr]
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"alpha__review", "beta__review", "gamma__review"} <= prompts
        prompt = await client.get_prompt("beta__review", {"code": "x = 1"})
        assert prompt.messages[0].content.text == "[beta] review this: x = 1"  # type: ignore[union-attr]


async def test_progress_is_relayed_and_tool_errors_stay_results(gw: Proc) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(gw, mode="legacy") as client:
        answer = await client.call_tool("gamma__count", {"steps": 3}, progress_callback=progress)
        assert texts(answer) == ["counted 3"]
        assert [s[0] for s in seen] == [1, 2, 3]
        assert seen[-1][1] == 3
        failed = await client.call_tool("gamma__fail", {})
        assert failed.is_error
        assert "fail" in texts(failed)[0]


async def test_a_slow_upstream_times_out_alone(gw: Proc) -> None:
    async with connect(gw) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("alpha__slow", {"seconds": 120})
        assert "did not answer" in caught.value.message
        # The others (and alpha itself) still answer.
        assert texts(await client.call_tool("beta__echo", {"text": "ok"})) == ["beta:ok"]
        assert texts(await client.call_tool("alpha__echo", {"text": "ok"})) == ["alpha:ok"]


def test_servers_report_their_state(gw: Proc) -> None:
    state = servers(gw)
    assert state["alpha"]["state"] == "up" and state["alpha"]["tools"] >= 7
    assert state["beta"]["transport"] == "stdio"
    assert state["dead"]["state"] == "down" and state["dead"]["error"]
    tools = httpx.get(gw.url + "/admin/mcp/tools?server=gamma", headers=ADMIN).json()["tools"]
    assert any(t["name"] == "gamma__echo" for t in tools)


def test_health_status_and_the_cli_show_the_servers(gw: Proc) -> None:
    health = httpx.get(gw.url + "/admin/health", headers=ADMIN).json()
    states = {s["name"]: s["state"] for s in health["mcp_servers"]}
    assert states["alpha"] == "up" and states["dead"] == "down"
    env = {**os.environ, "TURNOUT_MASTER_KEY": MASTER}

    def turnout(*args: str) -> str:
        done = subprocess.run(
            [PYTHON, "-m", "turnout.cli.main", *args, "--url", gw.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    status = turnout("status")
    assert "MCP servers" in status and "dead" in status
    listed = turnout("mcp", "list")
    for name in ("alpha", "beta", "gamma", "dead"):
        assert name in listed
    assert "stdio" in listed and "down" in listed
    tools = turnout("mcp", "tools", "beta")
    assert "beta__only_beta" in tools and "alpha__" not in tools
    as_json = json.loads(turnout("mcp", "tools", "--json"))
    assert {t["name"] for t in as_json} >= {"alpha__echo", "gamma__count"}


async def test_resource_updates_reach_the_subscribed_session(gw: Proc) -> None:
    updated = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            assert message.params.uri == "alpha+note://alpha/readme"  # the caller's name for it
            updated.set()

    http = create_mcp_http_client(headers={"authorization": f"Bearer {MASTER}"})
    transport = streamable_http_client(gw.url + "/mcp", http_client=http)
    async with Client(transport, mode="legacy", message_handler=on_message) as client:
        # Counted from what the module's upstream holds already (other tests' subscriptions).
        before = int(texts(await client.call_tool("alpha__touch", {"uri": "note://alpha/x"}))[0])
        await client.subscribe_resource("alpha+note://alpha/readme")
        told = await client.call_tool("alpha__touch", {"uri": "note://alpha/readme"})
        assert texts(told) == [str(before + 1)]  # the gateway subscribed upstream, once
        with anyio.fail_after(30):
            await updated.wait()
        await client.unsubscribe_resource("alpha+note://alpha/readme")


async def test_a_cancelled_call_is_cancelled_upstream(gw: Proc) -> None:
    async with connect(gw, mode="legacy") as client:
        before = int(texts(await client.call_tool("gamma__cancellations", {}))[0])
        with anyio.move_on_after(1.0):
            await client.call_tool("gamma__slow", {"seconds": 60})
        with anyio.fail_after(30):
            for _ in range(1_000_000):  # until the upstream saw the cancellation
                if int(texts(await client.call_tool("gamma__cancellations", {}))[0]) > before:
                    break
                await anyio.sleep(0.1)
        # The session is still good.
        assert texts(await client.call_tool("gamma__echo", {"text": "after"})) == ["gamma:after"]

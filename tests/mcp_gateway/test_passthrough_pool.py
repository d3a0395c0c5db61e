"""One caller cannot close the others' connections to a passthrough MCP server.

A passthrough server gets one upstream connection per caller's credential, kept for reuse.
Before (2026-12-07) all callers shared one least-recently-used list of 64, so a key sending 65
made-up credentials closed every other key's connection (their next call opened a new session
upstream; subscriptions and calls in flight were lost). Now each key holds at most
``PER_CALLER`` and pushes out only its own (turnout/mcp/children.py). A real upstream (the
official SDK behind a bearer check that counts sessions per token) and a real gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.mcp_gateway.conftest import MASTER, UPSTREAM, gateway_config, new_key, wait_states
from tests.support.procs import PYTHON, Proc, free_port, start_gateway
from turnout.mcp.children import PER_CALLER

pytestmark = pytest.mark.timeout(180)
GREEDY = 80  # more credentials than the old shared bound (64)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    port = free_port()
    proc = Proc(
        [PYTHON, UPSTREAM, "own", "streamable-http", str(port)],
        port,
        "/_ready",
        env={"MCP_TEST_BEARERS": "tok-ann"},
    )
    yield proc
    proc.stop()


def client(gw: Proc, key: str, credential: str) -> tuple[Client, httpx2.AsyncClient]:
    headers = {"authorization": f"Bearer {key}", "x-mcp-own-authorization": credential}
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(gw.url + "/mcp", http_client=http)), http


def test_a_key_cycling_credentials_evicts_only_its_own(
    mock: Proc, upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = gateway_config(
        mock, {"own": {"url": f"{upstream.url}/mcp", "auth": {"type": "passthrough"}}}
    )
    gw = start_gateway(
        config, tmp_path_factory.mktemp("mcp-pool"), env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=90,
    )  # fmt: skip
    try:
        wait_states(gw, {"own": "passthrough"})
        patient, greedy = new_key(gw, name="patient"), new_key(gw, name="greedy")

        async def scenario() -> int:
            ann, _ = client(gw, patient, "Bearer tok-ann")
            async with ann:
                assert (await ann.call_tool("own__echo", {"text": "a"})).content
                cycler, http = client(gw, greedy, "Bearer junk-0")
                async with cycler:
                    for i in range(GREEDY):  # a connection opened (and kept) per credential
                        http.headers["x-mcp-own-authorization"] = f"Bearer junk-{i}"
                        await cycler.list_tools()
                async with httpx.AsyncClient(headers={"authorization": f"Bearer {MASTER}"}) as a:
                    status = (await a.get(gw.url + "/admin/mcp/servers")).json()
                assert (await ann.call_tool("own__echo", {"text": "b"})).content
            callers = {s["name"]: s["callers"] for s in status["servers"]}["own"]
            assert isinstance(callers, int)
            return callers

        callers = asyncio.run(scenario())
        # The patient key's connection was never closed: one session upstream, not two.
        opened = httpx.get(upstream.url + "/_initialized").json()
        assert opened == {"tok-ann": 1}, opened
        assert callers == PER_CALLER + 1  # the greedy key's own, and the patient's
    finally:
        gw.stop()

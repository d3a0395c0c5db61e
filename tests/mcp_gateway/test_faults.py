"""What broken, slow, oversized and restarting upstreams do to the MCP gateway: the caller
gets a JSON-RPC error within its timeout, and the other servers are never affected."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import (
    MASTER,
    UPSTREAM,
    gateway_config,
    servers,
    start_upstream,
    stdio_server,
    wait_for,
    wait_states,
)
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import PYTHON, Proc, free_port, start_gateway
from turnout.mcp.catalogue import MAX_ITEMS

ROGUE = str(Path(__file__).with_name("rogue.py"))


def start_rogue(mode: str) -> Proc:
    port = free_port()
    return Proc([PYTHON, ROGUE, str(port), mode], port, "/")


@pytest.fixture(scope="module")
def rogues() -> Iterator[dict[str, Proc]]:
    procs = {
        mode: start_rogue(mode)
        for mode in ("bad-result", "garbage", "no-handshake", "huge", "gzip", "unending")
    }
    yield procs
    for proc in procs.values():
        proc.stop()


@pytest.fixture(scope="module")
def restartable() -> Iterator[dict[str, Any]]:
    """An upstream this module kills and starts again on the same port."""
    box: dict[str, Any] = {"proc": start_upstream("phoenix", "streamable-http")}
    yield box
    box["proc"].stop()


@pytest.fixture(scope="module")
def faulty(
    mock: Proc,
    alpha: Proc,
    rogues: dict[str, Proc],
    restartable: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proc]:
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    config = gateway_config(
        mock,
        {
            "alpha": {"url": f"{alpha.url}/mcp"},
            "twice": {"url": dead, "urls": [f"{alpha.url}/mcp"], "timeouts": {"connect": 2}},
            "small": {"url": f"{alpha.url}/mcp", "max_message_bytes": 20000},
            "many": stdio_server(
                "many", env={"MCP_TEST_EXTRA_TOOLS": "600"}, timeouts={"connect": 60, "list": 60}
            ),
            "phoenix": {
                "url": f"{restartable['proc'].url}/mcp",
                "health_interval": 0.5,
                "timeouts": {"connect": 2},
            },
            **{
                mode.replace("-", ""): {"url": f"{proc.url}/mcp", "timeouts": {"connect": 2}}
                for mode, proc in rogues.items()
            },
        },
        server={"max_body_bytes": 100_000},
    )
    proc = start_gateway(
        config,
        tmp_path_factory.mktemp("mcp-faults"),
        env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=90,
    )
    wait_states(
        proc,
        {
            "alpha": "up",
            "twice": "up",
            "small": "up",
            "many": "up",
            "phoenix": "up",
            "badresult": "up",
            "garbage": "up",
            "nohandshake": "down",
            "huge": "up",
            "gzip": "up",
        },
        within=90,
    )
    yield proc
    proc.stop()


async def test_malformed_json_rpc_is_an_error_for_that_call_only(faulty: Proc) -> None:
    async with connect(faulty) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"badresult__broken", "garbage__broken", "alpha__echo"} <= names
        assert not {n for n in names if n.startswith("nohandshake__")}
        for name in ("badresult__broken", "garbage__broken"):
            with pytest.raises(MCPError):
                await client.call_tool(name, {})
        assert texts(await client.call_tool("alpha__echo", {"text": "fine"})) == ["alpha:fine"]
    assert servers(faulty)["nohandshake"]["error"]


async def test_long_lists_come_in_pages(faulty: Proc) -> None:
    async with connect(faulty, "/mcp/many") as client:
        first = await client.list_tools()
        assert len(first.tools) == 500 and first.next_cursor
        second = await client.list_tools(cursor=first.next_cursor)
        assert second.next_cursor is None
        names = [t.name for t in first.tools + second.tools]
        assert len(names) == len(set(names)) == 600 + 11  # the extras and the usual eleven
        assert texts(await client.call_tool("extra_0599", {})) == ["599"]
        with pytest.raises(MCPError):
            await client.list_tools(cursor="not-a-cursor")


async def test_a_list_without_end_is_cut_short(faulty: Proc) -> None:
    """A server listing 50,000 tools a page, always with one more page: the gateway keeps the
    first MAX_ITEMS and serves them (before, it read pages until the connection's timeout
    marked the server down, holding 500 MB meanwhile, on every attempt)."""

    def cut() -> bool:
        found = servers(faulty)["unending"]
        return bool(found["state"] == "up" and found["tools"] == MAX_ITEMS)

    wait_for(cut, 60, "unending up with its list cut short")
    async with connect(faulty, "/mcp/unending") as client:
        page = await client.list_tools()
        assert page.tools[0].name == "t0_0" and page.next_cursor


def test_a_server_with_several_urls_fails_over(faulty: Proc, alpha: Proc) -> None:
    twice = servers(faulty)["twice"]
    assert twice["state"] == "up"
    assert twice["endpoint"] == f"{alpha.url}/mcp"


async def test_oversized_answers_and_requests_are_refused(faulty: Proc) -> None:
    async with connect(faulty) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("small__big", {"size": 50_000})
        assert "more than 20000 bytes" in caught.value.message
        assert texts(await client.call_tool("small__big", {"size": 100})) == ["x" * 100]
        assert len(texts(await client.call_tool("alpha__big", {"size": 50_000}))[0]) == 50_000
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "alpha__echo", "arguments": {"text": "y" * 200_000}},
    }
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            faulty.url + "/mcp",
            json=call,
            headers={
                "authorization": f"Bearer {MASTER}",
                "accept": "application/json, text/event-stream",
            },
        )
    assert reply.status_code == 413


def _peak_rss_mb(proc: Proc) -> float:
    status = Path(f"/proc/{proc.popen.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


async def test_an_answer_is_bounded_while_it_is_read(faulty: Proc) -> None:
    """A tool answered with 200 MB of JSON: refused like any answer past max_message_bytes,
    without reading it whole first (the SDK read JSON answers whole: 300 MB took the gateway
    to 1.6 GB). A compressed answer, not asked for, is refused: its size cannot be bounded as
    it arrives. Both fail that call alone."""
    before = _peak_rss_mb(faulty)
    async with connect(faulty) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("huge__broken", {})
        assert "more than 4194304 bytes" in caught.value.message
        with pytest.raises(MCPError) as caught:
            await client.call_tool("gzip__broken", {})
        assert "compressed" in caught.value.message
        assert texts(await client.call_tool("alpha__echo", {"text": "fine"})) == ["alpha:fine"]
    assert _peak_rss_mb(faulty) - before < 100
    assert {servers(faulty)[n]["state"] for n in ("huge", "gzip")} == {"up"}


def test_a_restarted_upstream_comes_back(faulty: Proc, restartable: dict[str, Any]) -> None:
    old: Proc = restartable["proc"]
    port = old.port
    old.stop()
    wait_states(faulty, {"phoenix": "down"})

    async def while_down() -> None:
        async with connect(faulty) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "phoenix__echo" not in names and "alpha__echo" in names
            with pytest.raises(MCPError) as caught:
                await client.call_tool("phoenix__echo", {"text": "x"})
            assert caught.value.code == -32000 and "unavailable" in caught.value.message

    asyncio.run(while_down())
    args = [PYTHON, UPSTREAM, "phoenix", "streamable-http", str(port)]
    restartable["proc"] = Proc(args, port, "/mcp")
    wait_states(faulty, {"phoenix": "up"}, within=60)


@pytest.fixture(scope="module")
def guarded_upstream() -> Iterator[Proc]:
    port = free_port()
    proc = Proc(
        [PYTHON, UPSTREAM, "vault", "streamable-http", str(port)],
        port,
        "/_tokens",
        env={"MCP_TEST_CLIENT_CREDENTIALS": "gw-client:s3cret/+="},
    )
    yield proc
    proc.stop()


def test_oauth_client_credentials_fetches_and_renews_the_token(
    mock: Proc, guarded_upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    up = guarded_upstream.url
    auth = {
        "type": "oauth_client_credentials",
        "token_url": f"{up}/token",
        "client_id": "gw-client",
        "client_secret": "s3cret/+=",
    }
    wrong = {**auth, "client_secret": "nope"}
    config = gateway_config(
        mock,
        {
            "vault": {"url": f"{up}/mcp", "auth": auth, "health_interval": 0.5},
            "locked": {"url": f"{up}/mcp", "auth": wrong, "timeouts": {"connect": 2}},
            "bare": {"url": f"{up}/mcp", "timeouts": {"connect": 2}},
        },
    )
    gw = start_gateway(
        config, tmp_path_factory.mktemp("mcp-oauth"), env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=90,
    )  # fmt: skip
    try:
        wait_states(gw, {"vault": "up", "locked": "down", "bare": "down"})
        assert "s3cret" not in gw.output()  # the secret is never logged

        async def call() -> list[str]:
            async with connect(gw) as client:
                return texts(await client.call_tool("vault__echo", {"text": "in"}))

        assert asyncio.run(call()) == ["vault:in"]
        before = httpx.get(f"{up}/_tokens").json()["issued"]
        httpx.post(f"{up}/_revoke")  # the server revokes the token early
        # The next request gets a 401, fetches a new token and is sent again; the session
        # goes on (or is reopened by the supervisor) and calls work again.
        deadline = time.monotonic() + 30
        while True:
            try:
                assert asyncio.run(call()) == ["vault:in"]
                break
            except (AssertionError, MCPError, ExceptionGroup):
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert httpx.get(f"{up}/_tokens").json()["issued"] > before + 1
        status = servers(gw)
        assert "s3cret" not in str(status)
    finally:
        gw.stop()


def test_passthrough_uses_each_callers_own_credential(
    mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    upstream = Proc(
        [PYTHON, UPSTREAM, "own", "streamable-http", str(port)],
        port,
        "/_ready",
        env={"MCP_TEST_BEARERS": "tok-ann,tok-bo"},
    )
    config = gateway_config(
        mock, {"own": {"url": f"{upstream.url}/mcp", "auth": {"type": "passthrough"}}}
    )
    gw = start_gateway(
        config, tmp_path_factory.mktemp("mcp-pass"), env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=90,
    )  # fmt: skip
    try:
        wait_states(gw, {"own": "passthrough"})

        async def as_caller(credential: str | None) -> tuple[set[str], list[str] | str]:
            extra = {"x-mcp-own-authorization": credential} if credential else {}
            http = create_mcp_http_client(headers={"authorization": f"Bearer {MASTER}", **extra})
            transport = streamable_http_client(gw.url + "/mcp", http_client=http)
            async with Client(transport) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                try:
                    answer: list[str] | str = texts(
                        await client.call_tool("own__echo", {"text": "hi"})
                    )
                except MCPError as exc:
                    answer = exc.message
                return names, answer

        names, answer = asyncio.run(as_caller("Bearer tok-ann"))
        assert "own__echo" in names and answer == ["own:hi"]
        names, answer = asyncio.run(as_caller("Bearer tok-bo"))
        assert answer == ["own:hi"]
        names, answer = asyncio.run(as_caller(None))
        assert not names and "x-mcp-own-authorization" in str(answer)
        names, answer = asyncio.run(as_caller("Bearer wrong"))
        assert not names and "unavailable" in str(answer)
        assert servers(gw)["own"]["callers"] == 3  # ann, bo and the wrong one
        assert "tok-ann" not in gw.output()
    finally:
        gw.stop()
        upstream.stop()


def test_a_reloaded_config_adds_changes_and_removes_servers(
    mock: Proc, alpha: Proc, gamma: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("mcp-reload")
    first = {"one": {"url": f"{alpha.url}/mcp"}, "two": {"url": f"{alpha.url}/mcp"}}
    gw = start_gateway(
        gateway_config(mock, first), tmp, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=90
    )
    try:
        wait_states(gw, {"one": "up", "two": "up"})
        second = {
            "one": {"url": f"{alpha.url}/mcp"},  # unchanged: its connection is kept
            "two": {"transport": "sse", "url": f"{gamma.url}/sse"},  # changed: reconnected
            "three": stdio_server("three"),  # added
        }
        since = servers(gw)["one"]["since"]
        config_file = tmp / f"turnout-{gw.port}.yaml"
        config_file.write_text(yaml.safe_dump(gateway_config(mock, second)))
        gw.signal(signal.SIGHUP)
        wait_states(gw, {"one": "up", "two": "up", "three": "up"}, within=90)
        state = servers(gw)
        assert state["two"]["transport"] == "sse" and state["one"]["since"] == since
        config_file.write_text(yaml.safe_dump(gateway_config(mock, {"three": second["three"]})))
        gw.signal(signal.SIGHUP)
        wait_for(lambda: set(servers(gw)) == {"three"}, what="only 'three' left")
    finally:
        gw.stop()

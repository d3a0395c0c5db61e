"""Who may see and use which MCP items, what a tool call leaves behind, and which servers the
admin API may add: keys and teams made through the admin API, the SDK's client as the judge."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import ADMIN, new_key, servers, wait_for, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import Proc


def mcp_meta(**rules: Any) -> dict[str, Any]:
    return {"metadata": {"mcp": rules}}


@pytest.fixture(scope="module")
def keys(gw: Proc) -> dict[str, str]:
    httpx.post(
        gw.url + "/admin/teams",
        headers=ADMIN,
        json={"name": "no-adders", **mcp_meta(deny=["*__add"])},
        timeout=10,
    ).raise_for_status()
    return {
        "a": new_key(
            gw, name="a", **mcp_meta(servers=["alpha", "beta"], allow=["alpha__*", "beta__echo"])
        ),
        "b": new_key(
            gw, name="b", **mcp_meta(servers=["gamma"], deny=["gamma__fail", "gamma+note://*"])
        ),
        "team": new_key(gw, name="t", team="no-adders"),
        "slowpoke": new_key(gw, name="s", **mcp_meta(tool_rpm=2)),
    }


async def test_two_keys_see_and_use_different_items(gw: Proc, keys: dict[str, str]) -> None:
    async with connect(gw, key=keys["a"]) as a:
        names = {t.name for t in (await a.list_tools()).tools}
        assert "alpha__echo" in names and "beta__echo" in names
        assert not {n for n in names if n.startswith("gamma__")}
        assert "beta__add" not in names
        assert texts(await a.call_tool("alpha__echo", {"text": "a"})) == ["alpha:a"]
        for forbidden in ("gamma__echo", "beta__add"):
            with pytest.raises(MCPError) as caught:
                await a.call_tool(forbidden, {"text": "x", "a": 1, "b": 2})
            assert "Unknown tool" in caught.value.message
        prompts = {p.name for p in (await a.list_prompts()).prompts}
        assert prompts == {"alpha__review"}  # beta__review is not in the allow list
        with pytest.raises(MCPError):
            await a.get_prompt("beta__review", {"code": "x"})
    async with connect(gw, key=keys["b"]) as b:
        names = {t.name for t in (await b.list_tools()).tools}
        assert "gamma__echo" in names and "gamma__fail" not in names
        assert not {n for n in names if not n.startswith("gamma__")}
        with pytest.raises(MCPError):
            await b.call_tool("gamma__fail", {})
        with pytest.raises(MCPError):
            await b.call_tool("alpha__echo", {"text": "b"})
        resources = {r.uri for r in (await b.list_resources()).resources}
        assert resources == set()  # gamma's readme denied, the others' servers not allowed
        with pytest.raises(MCPError):
            await b.read_resource("gamma+note://gamma/readme")
        with pytest.raises(MCPError):
            await b.read_resource("alpha+note://alpha/readme")
        made = await b.read_resource("gamma+greeting://b")  # the template is allowed
        assert made.contents[0].text == "hello b from gamma"  # type: ignore[union-attr]


async def test_a_denied_uri_stays_denied_when_a_template_makes_it(gw: Proc) -> None:
    """A deny rule names URIs: a resource read through an allowed template is still checked
    against it (before, only the template's name was, so any URI it made could be read)."""
    key = new_key(gw, name="no-admin-greetings", **mcp_meta(deny=["alpha+greeting://admin*"]))
    async with connect(gw, key=key) as client:
        ok = await client.read_resource("alpha+greeting://ann")
        assert ok.contents[0].text == "hello ann from alpha"  # type: ignore[union-attr]
        for denied in ("alpha+greeting://admin", "alpha+greeting://admin-2"):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(denied)
            assert "Unknown resource" in caught.value.message
    async with connect(gw, "/mcp/alpha", key=key) as direct:
        with pytest.raises(MCPError):
            await direct.read_resource("greeting://admin")


async def test_a_denied_uri_stays_denied_however_it_is_spelt(gw: Proc) -> None:
    """The upstream decodes a URI before it uses it (the SDK's templates undo percent-encoding;
    other servers also resolve ``..``): a deny rule holds for every spelling of the URI it
    names. Before, ``alpha+greeting://%61dmin`` passed ``alpha+greeting://admin*`` and the
    upstream answered ``hello admin``."""
    key = new_key(gw, name="no-admin-spellings", **mcp_meta(deny=["alpha+greeting://admin*"]))
    spellings = (
        "greeting://%61dmin",
        "greeting://adm%69n-2",
        "greeting://%2561dmin",
        "greeting://x/../admin",
        "greeting://x/./%2e%2e/admin",
        "greeting://x\\..\\admin",
    )
    async with connect(gw, key=key) as client:
        for uri in spellings:
            with pytest.raises(MCPError) as caught:
                await client.read_resource("alpha+" + uri)
            assert "Unknown resource" in caught.value.message, uri
        ok = await client.read_resource("alpha+greeting://%61nn")  # decoded: not denied
        assert ok.contents[0].text == "hello ann from alpha"  # type: ignore[union-attr]
    async with connect(gw, "/mcp/alpha", key=key) as direct:
        for uri in spellings:
            with pytest.raises(MCPError):
                await direct.read_resource(uri)


async def test_a_team_rule_applies_to_its_keys(gw: Proc, keys: dict[str, str]) -> None:
    async with connect(gw, key=keys["team"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "alpha__echo" in names and "alpha__add" not in names
        with pytest.raises(MCPError):
            await client.call_tool("alpha__add", {"a": 1, "b": 2})


def test_a_denied_server_path_and_a_missing_key(gw: Proc, keys: dict[str, str]) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    denied = httpx.post(
        gw.url + "/mcp/gamma", json=ping, headers={"authorization": f"Bearer {keys['a']}"}
    )
    assert denied.status_code == 404
    for headers in ({}, {"authorization": "Bearer sk-not-a-key"}):
        reply = httpx.post(gw.url + "/mcp", json=ping, headers=headers)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == -32001
        challenge = reply.headers["www-authenticate"]
        assert "/.well-known/oauth-protected-resource" in challenge
    meta = httpx.get(gw.url + "/.well-known/oauth-protected-resource").json()
    assert meta["resource"] == gw.url + "/mcp"
    assert meta["bearer_methods_supported"] == ["header"]


def test_a_session_belongs_to_the_key_that_opened_it(gw: Proc, keys: dict[str, str]) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    accept = {"accept": "application/json, text/event-stream"}
    opened = httpx.post(
        gw.url + "/mcp", json=init, headers={**accept, "authorization": f"Bearer {keys['a']}"}
    )
    assert opened.status_code == 200
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    stolen = httpx.post(
        gw.url + "/mcp",
        json=listing,
        headers={
            **accept,
            "authorization": f"Bearer {keys['b']}",
            "mcp-session-id": session,
            "mcp-protocol-version": "2025-06-18",
        },
    )
    assert stolen.status_code == 404


async def test_tool_rpm_refuses_the_call_past_the_limit(gw: Proc, keys: dict[str, str]) -> None:
    async with connect(gw, key=keys["slowpoke"]) as client:
        for _ in range(2):
            await client.call_tool("beta__echo", {"text": "x"})
        with pytest.raises(MCPError) as caught:
            await client.call_tool("beta__echo", {"text": "x"})
        assert caught.value.code == -32029
        assert "2 per minute" in caught.value.message


def test_every_tool_call_is_logged_and_counted(gw: Proc, keys: dict[str, str]) -> None:
    async def call() -> None:
        async with connect(gw, key=keys["a"]) as client:
            await client.call_tool("alpha__add", {"a": 40, "b": 2})

    asyncio.run(call())
    key_id = next(
        k["id"]
        for k in httpx.get(gw.url + "/admin/keys", headers=ADMIN).json()["keys"]
        if k["name"] == "a"
    )

    def logged() -> list[dict[str, Any]]:
        reply = httpx.get(
            gw.url + "/admin/logs", headers=ADMIN, params={"protocol": "mcp", "key": key_id}
        )
        rows: list[dict[str, Any]] = reply.json()["rows"]
        return [r for r in rows if r["model"] == "alpha__add"]

    wait_for(lambda: bool(logged()), what="the tool call's row")
    row = logged()[0]
    assert row["operation"] == "tools/call"
    assert row["deployment"] == "alpha/add"
    assert row["status"] == 200
    assert row["bytes_in"] > 0 and row["bytes_out"] > 0  # the arguments, the result
    usage = httpx.get(gw.url + "/admin/mcp/usage", headers=ADMIN).json()["usage"]
    add = next(u for u in usage if (u["server"], u["tool"]) == ("alpha", "add"))
    assert add["calls"] >= 1 and add["bytes_in"] > 0 and add["bytes_out"] > 0
    metrics = httpx.get(gw.url + "/metrics", headers=ADMIN).text  # metrics.access: admin
    assert 'turnout_mcp_tool_calls_total{server="alpha",tool="add"}' in metrics
    assert 'turnout_mcp_tool_bytes_total{direction="out",server="alpha",tool="add"}' in metrics
    assert 'turnout_mcp_server_up{server="alpha"} 1.0' in metrics
    assert 'turnout_mcp_server_up{server="dead"} 0.0' in metrics


def test_the_admin_api_adds_http_servers_only_and_checks_their_urls(gw: Proc, alpha: Proc) -> None:
    def add(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(gw.url + "/admin/mcp/servers", headers=ADMIN, json=body, timeout=30)

    stdio = add({"name": "evil", "transport": "stdio", "command": ["sh", "-c", "id"]})
    assert stdio.status_code == 400
    assert "config file only" in stdio.json()["detail"]
    assert add({"name": "evil", "command": ["id"]}).status_code == 400
    for url in (
        f"{alpha.url}/mcp",  # loopback
        "http://169.254.169.254/mcp",  # cloud metadata
        "http://10.1.2.3/mcp",  # private
    ):
        refused = add({"name": "late", "url": url})
        assert refused.status_code == 403, url
    assert add({"name": "alpha", "url": "http://localhost:1/mcp"}).status_code == 409
    assert add({"name": "Bad_Name", "url": "http://localhost:1/mcp"}).status_code == 400
    # outbound.allow admits "localhost": the operator's own exception.
    accepted = add({"name": "late", "url": f"http://localhost:{alpha.port}/mcp"})
    assert accepted.status_code == 201, accepted.text
    wait_states(gw, {"late": "up"})
    tools = httpx.get(gw.url + "/admin/mcp/tools?server=late", headers=ADMIN).json()["tools"]
    assert "late__echo" in {t["name"] for t in tools}
    assert servers(gw)["late"]["source"] == "admin"
    gone = httpx.delete(gw.url + "/admin/mcp/servers/late", headers=ADMIN)
    assert gone.status_code == 200
    assert "late" not in servers(gw)
    assert httpx.delete(gw.url + "/admin/mcp/servers/alpha", headers=ADMIN).status_code == 409


def test_a_refused_tool_call_is_logged_under_the_key_that_tried(gw: Proc) -> None:
    """Every tool call is a row of the request log: before (2026-12-08) one refused before any
    upstream saw it (a denied or unknown name) left none, so a key probing for tools it may not
    use left no trace. It is answered like an unknown name still; the row says 404."""
    made = httpx.post(
        gw.url + "/admin/keys",
        headers=ADMIN,
        json={"name": "prober", **mcp_meta(deny=["alpha__add"])},
        timeout=10,
    ).json()
    tried = ("alpha__add", "alpha__nosuch", "nosuch")

    async def probe() -> None:
        async with connect(gw, key=made["key"]) as client:
            for name in tried:
                with pytest.raises(MCPError) as refused:
                    await client.call_tool(name, {"a": 1, "b": 2})
                assert "Unknown" in refused.value.message

    asyncio.run(probe())

    def logged() -> dict[str, Any]:
        reply = httpx.get(
            gw.url + "/admin/logs", headers=ADMIN, params={"protocol": "mcp", "key": made["id"]}
        )
        return {r["model"]: r for r in reply.json()["rows"]}

    wait_for(lambda: set(tried) <= set(logged()), what="a row for each refused call")
    rows = logged()
    assert {rows[name]["status"] for name in tried} == {404}
    assert rows["alpha__add"]["operation"] == "tools/call"

"""``subscriptions/listen`` (protocol 2026-07-28): the SDK's client opens listen streams on
``/mcp`` and ``/mcp/{server}``; the gateway acknowledges only the resources the key may read
and relays the upstream's ``resources/updated`` under the caller's name for them."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.subscriptions import ListenNotSupportedError, ResourceUpdated, ToolsListChanged
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import ADMIN, new_key
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import Proc
from turnout.mcp.subscriptions import PER_KEY

README = "alpha+note://alpha/readme"


async def next_update(sub: object) -> ResourceUpdated:
    with anyio.fail_after(30):
        async for event in sub:  # type: ignore[attr-defined]
            if isinstance(event, ResourceUpdated):
                return event
    raise AssertionError("the listen stream ended without an update")


@pytest.fixture(scope="module")
def keys(gw: Proc) -> dict[str, str]:
    return {
        "reader": new_key(gw, name="listener", metadata={"mcp": {"servers": ["alpha"]}}),
        "deaf": new_key(gw, name="deaf", metadata={"mcp": {"deny": ["alpha+note://*"]}}),
        "elsewhere": new_key(gw, name="elsewhere", metadata={"mcp": {"servers": ["gamma"]}}),
    }


async def test_a_listen_stream_relays_what_the_key_may_read(gw: Proc, keys: dict[str, str]) -> None:
    async with connect(gw, key=keys["reader"]) as client:
        assert client.session.protocol_version == "2026-07-28"
        missing = "alpha+note://alpha/nothing-here"
        async with client.listen(resource_subscriptions=[README, missing]) as sub:
            assert sub.honored.resource_subscriptions == [README]  # unknown: not honored
            told = await client.call_tool("alpha__touch", {"uri": "note://alpha/readme"})
            assert int(texts(told)[0]) >= 1  # the gateway subscribed upstream
            assert (await next_update(sub)).uri == README  # the caller's name for it


async def test_one_server_path_keeps_its_own_uris(gw: Proc, keys: dict[str, str]) -> None:
    own = "note://alpha/readme"
    async with (
        connect(gw, "/mcp/alpha", key=keys["reader"]) as client,
        client.listen(resource_subscriptions=[own]) as sub,
    ):
        assert sub.honored.resource_subscriptions == [own]
        await client.call_tool("touch", {"uri": own})
        assert (await next_update(sub)).uri == own


async def test_a_denied_resource_is_not_honored(gw: Proc, keys: dict[str, str]) -> None:
    for key in (keys["deaf"], keys["elsewhere"]):
        async with (
            connect(gw, key=key) as client,
            client.listen(resource_subscriptions=[README]) as sub,
        ):
            # Denied and unknown answer alike: left out of the acknowledgement, so the SDK's
            # client (and the gateway) never deliver it.
            assert not sub.honored.resource_subscriptions


async def test_listen_needs_the_2026_protocol(gw: Proc) -> None:
    async with connect(gw, mode="legacy") as client:
        with pytest.raises(ListenNotSupportedError):
            async with client.listen(resource_subscriptions=[README]):
                pass


async def test_list_changes_reach_a_stream_that_asked(gw: Proc, alpha: Proc) -> None:
    """A server added through the admin API comes up, then is removed: each time the
    aggregate's tool list changed, and a stream that asked hears it (which streams may see a
    server is tests/unit/mcp/test_rules.py)."""
    admin = httpx.AsyncClient(base_url=gw.url, headers=ADMIN, timeout=30)

    async def tools_changed(sub: Any) -> None:
        with anyio.fail_after(30):
            async for event in sub:
                if isinstance(event, ToolsListChanged):
                    return
        raise AssertionError("the listen stream ended")

    async with (
        admin,
        connect(gw) as client,
        client.listen(tools_list_changed=True, prompts_list_changed=True) as sub,
    ):
        assert sub.honored.tools_list_changed and sub.honored.prompts_list_changed
        assert not sub.honored.resources_list_changed  # not asked: not honored
        body = {"name": "later", "url": f"http://localhost:{alpha.port}/mcp"}
        added = await admin.post("/admin/mcp/servers", json=body)
        assert added.status_code == 201, added.text
        try:
            await tools_changed(sub)
            assert "later__echo" in {t.name for t in (await client.list_tools()).tools}
        finally:
            assert (await admin.delete("/admin/mcp/servers/later")).status_code == 200
        await tools_changed(sub)
        assert "later__echo" not in {t.name for t in (await client.list_tools()).tools}


async def test_one_key_cannot_hold_every_listen_stream(gw: Proc) -> None:
    """A process serves 1024 listen streams; before (2026-12-08) one key could open them all
    and every other key got "Subscription limit reached" for as long as it held them. Now a
    key holds at most ``PER_KEY`` (the next is refused with ``-32029``); another key is
    served, and a stream that ends makes room."""
    greedy = new_key(gw, name="greedy-listener")
    async with connect(gw, key=greedy) as client, contextlib.AsyncExitStack() as streams:
        for _ in range(PER_KEY):
            await streams.enter_async_context(client.listen(tools_list_changed=True))
        with pytest.raises(MCPError) as refused:
            async with client.listen(tools_list_changed=True):
                pass
        assert refused.value.code == -32029
        other = new_key(gw, name="patient-listener")
        async with (
            connect(gw, key=other) as patient,
            patient.listen(resource_subscriptions=[README]) as sub,
        ):
            assert sub.honored.resource_subscriptions == [README]
        await streams.aclose()  # every stream of the greedy key ends
        async with client.listen(tools_list_changed=True) as again:
            assert again.honored.tools_list_changed

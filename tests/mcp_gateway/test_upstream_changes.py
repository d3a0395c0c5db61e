"""A connected server whose tools change: it says so (``notifications/tools/list_changed``), and
the gateway's aggregate follows without a reconnect, for callers that list again and for
streams that asked to hear of it. Its own upstream and gateway: the change is not undone.

The gateway connects to upstreams as a client of the 2025-11-25 protocol, whose servers send the
notification on the session; a server that announces changes only on ``subscriptions/listen``
streams (the SDK's ``ctx.notify_tools_changed()``) is not heard until the gateway reconnects
(docs/mcp.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.client.subscriptions import ToolsListChanged

from tests.mcp_gateway.conftest import MASTER, gateway_config, start_upstream, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import Proc, start_gateway


@pytest.fixture
def changing(mock: Proc, tmp_path: Path) -> Iterator[Proc]:
    upstream = start_upstream("delta", "streamable-http")
    try:
        config = gateway_config(
            mock, {"delta": {"url": f"{upstream.url}/mcp"}}, outbound={"allow": ["localhost"]}
        )
        gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
        try:
            wait_states(gw, {"delta": "up"})
            yield gw
        finally:
            gw.stop()
    finally:
        upstream.stop()


async def test_a_tool_a_server_announces_is_served_without_a_reconnect(changing: Proc) -> None:
    async with connect(changing) as client, client.listen(tools_list_changed=True) as sub:
        assert "delta__fresh" not in {t.name for t in (await client.list_tools()).tools}
        await client.call_tool("delta__grow", {"tool": "fresh"})
        with anyio.fail_after(30):
            async for event in sub:
                if isinstance(event, ToolsListChanged):
                    break
        assert "delta__fresh" in {t.name for t in (await client.list_tools()).tools}
        assert texts(await client.call_tool("delta__fresh", {})) == ["fresh"]

"""The dashboard's MCP page: the servers, their tools and the tool calls made through the
gateway, equal to what ``/admin/mcp/servers`` and ``/admin/mcp/usage`` return."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.mcp_gateway.conftest import (
    ADMIN,
    MASTER,
    gateway_config,
    servers,
    start_upstream,
    stdio_server,
    wait_states,
)
from tests.mcp_gateway.test_gateway import connect
from tests.support.procs import Proc, start_gateway
from tests.ui.conftest import Dash, Tab

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tooled(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    upstream = start_upstream("notes", "streamable-http")
    config = gateway_config(
        mock, {"notes": {"url": f"{upstream.url}/mcp"}, "files": stdio_server("files")}
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("ui-mcp"), env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=90,
    )  # fmt: skip
    try:
        wait_states(proc, {"notes": "up", "files": "up"})

        async def calls() -> None:
            async with connect(proc) as client:
                for i in range(3):
                    await client.call_tool("notes__echo", {"text": str(i)})
                await client.call_tool("files__add", {"a": 1, "b": 2})

        # Playwright's own event loop runs in this thread: the SDK client gets another.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, calls()).result()
        yield Dash(proc)
    finally:
        proc.stop()
        upstream.stop()


@pytest.fixture
def page_tab(browser: Browser, tooled: Dash) -> Iterator[Tab]:
    tab = Tab(browser, tooled.url)
    yield tab
    tab.close()


def test_mcp_page_equals_the_admin_api(page_tab: Tab, tooled: Dash) -> None:
    state = servers(tooled.gw)
    usage = httpx.get(tooled.url + "/admin/mcp/usage", headers=ADMIN).json()["usage"]
    page = page_tab.sign_in(MASTER)
    page_tab.open("mcp")
    table = page.get_by_test_id("mcp-servers")
    for name, server in state.items():
        row = table.locator(f'tr[data-server="{name}"]')
        expect(row.locator('[data-col="tools"]')).to_have_text(str(server["tools"]))
        expect(row).to_contain_text("up")
    calls = page.get_by_test_id("mcp-usage")
    for u in usage:
        row = calls.locator(f'tr[data-tool="{u["server"]}__{u["tool"]}"]')
        expect(row.locator('[data-col="calls"]')).to_have_text(str(u["calls"]))
    assert {(u["server"], u["tool"], u["calls"]) for u in usage} == {
        ("notes", "echo", 3),
        ("files", "add", 1),
    }
    expect(page.get_by_test_id("mcp-tools").locator('tr[data-tool="files__add"]')).to_have_count(1)
    expect(page.locator(".error")).to_have_count(0)
    out = os.environ.get("TURNOUT_UI_SCREENSHOTS")
    if out:
        page.screenshot(path=str(Path(out) / "dashboard-mcp.png"), full_page=True)

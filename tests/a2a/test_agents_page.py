"""The dashboard's Agents page in headless Chromium: it lists what ``GET /admin/agents`` lists,
adds an agent live and removes it again."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.a2a.conftest import ADMIN, MASTER
from tests.support.procs import Proc
from tests.ui.conftest import Tab, browser, playwright  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def tab(browser: Browser, a2a_gateway: Proc) -> Iterator[Tab]:  # noqa: F811 - the fixture
    t = Tab(browser, a2a_gateway.url)
    yield t
    t.close()


def test_agents_page_lists_adds_and_removes(tab: Tab, a2a_gateway: Proc, quick_agent: Proc) -> None:
    page = tab.sign_in(MASTER)
    tab.open("agents")
    table = page.get_by_test_id("agents")
    api = httpx.get(f"{a2a_gateway.url}/admin/agents", headers=ADMIN, timeout=10).json()
    for agent in api["agents"]:
        expect(table.locator(f'tr[data-agent="{agent["name"]}"]')).to_be_visible()
    worker = table.locator('tr[data-agent="worker"]')
    expect(worker).to_contain_text("config")
    expect(worker.get_by_test_id("agent-remove")).to_have_count(0)  # config agents stay

    form = page.get_by_test_id("agent-add")
    form.locator('input[name="name"]').fill("from-the-page")
    form.locator('input[name="url"]').fill(quick_agent.url)
    form.locator('input[name="agent_rpm"]').fill("5")
    page.get_by_test_id("agent-add-submit").click()
    added = table.locator('tr[data-agent="from-the-page"]')
    expect(added).to_contain_text("admin")
    expect(added).to_contain_text("5/min per key")
    added.get_by_test_id("agent-refresh").click()
    expect(added).to_contain_text("fetched")

    page.once("dialog", lambda d: d.accept())
    added.get_by_test_id("agent-remove").click()
    expect(added).to_have_count(0)
    names = {
        a["name"]
        for a in httpx.get(f"{a2a_gateway.url}/admin/agents", headers=ADMIN, timeout=10).json()[
            "agents"
        ]
    }
    assert "from-the-page" not in names

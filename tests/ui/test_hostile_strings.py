"""Strings another party chose, on the dashboard in headless Chromium: a key's name and
metadata (a team admin may set them), an A2A agent's card (the agent's own server, built with
the official a2a-sdk, names itself) and the usage grouped by those keys. Each holds markup
that would run if a page put it into HTML instead of a text node; nothing runs, no dialog
opens, and the markup is shown as the text it is."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.a2a.conftest import start_agent
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until
from tests.ui.conftest import ADMIN, MASTER, Tab

pytestmark = pytest.mark.timeout(300)
MARKUP = (
    '"><img src=x onerror="window.__pwned=1"><svg onload="window.__pwned=2">'
    "</script><script>window.__pwned=3</script>"
)


@pytest.fixture(scope="module")
def hostile(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    agent = start_agent("quick", "--name", MARKUP)
    config = {
        "providers": {"primary": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "primary", "model": "mock-gpt"}]}},
        "storage": {"flush_interval": 0.05},
        "outbound": {"allow": ["127.0.0.1"]},  # the agent is on loopback
    }
    tmp = tmp_path_factory.mktemp("ui-hostile")
    proc = start_gateway(config, tmp, "--host", "127.0.0.1", env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        put = httpx.put(proc.url + "/admin/agents/quick", headers=ADMIN, json={"url": agent.url})
        assert put.status_code < 300, put.text
        fetched = httpx.post(proc.url + "/admin/agents/quick/refresh", headers=ADMIN)
        assert fetched.status_code == 200, fetched.text
        card = httpx.get(proc.url + "/admin/agents", headers=ADMIN).json()["agents"][0]["card"]
        assert card["fetched"] and card["name"] == MARKUP, card
        body = {"name": MARKUP, "metadata": {MARKUP: MARKUP, "link": "javascript:window.__pwned=4"}}
        made = httpx.post(proc.url + "/admin/keys", headers=ADMIN, json=body)
        assert made.status_code == 201, made.text
        client = openai.OpenAI(base_url=proc.url + "/v1", api_key=made.json()["key"], max_retries=0)
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": MARKUP}], user=MARKUP
        )
        logs = proc.url + "/admin/logs?from=1h"
        until(lambda: httpx.get(logs, headers=ADMIN).json()["rows"], 20, 0.05)
        yield proc
    finally:
        proc.stop()
        agent.stop()


@pytest.fixture
def tab(browser: Browser, hostile: Proc) -> Iterator[Tab]:
    t = Tab(browser, hostile.url)
    yield t
    t.close()


def test_markup_from_others_is_shown_as_text_and_never_runs(tab: Tab, hostile: Proc) -> None:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page = tab.sign_in(MASTER)
    page.on("dialog", dismiss)
    tab.open("keys")
    expect(page.get_by_text(MARKUP).first).to_be_visible()  # the key's name, as text
    tab.open("usage")
    page.get_by_role("button", name="Key").click()
    expect(page.get_by_test_id("usage-table")).to_contain_text(MARKUP)
    tab.open("agents")
    expect(page.locator('tr[data-agent="quick"]')).to_contain_text(MARKUP)  # its card's name
    tab.open("logs")
    page.locator('[data-testid="log-table"] tbody tr[data-request-id]').first.click()
    expect(page.get_by_role("dialog")).to_be_visible()  # the row's detail
    page.get_by_role("button", name="Close").click()
    for name in ("overview", "keys", "agents"):
        tab.open(name)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"], svg[onload]').count() == 0
    assert not dialogs

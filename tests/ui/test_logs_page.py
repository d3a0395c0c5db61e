"""The Logs page in headless Chromium: the guardrails column (plugins' decisions: plugin,
rule, action) on the rows they were made for, as ``/admin/logs`` stores them, and in a row's
detail (a gateway of its own with the ``pii`` and ``keywords`` guardrails, traffic sent with
the official OpenAI SDK); MCP tool calls with their bytes in and out (the MCP page's gateway,
tools called with the official MCP SDK)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import Browser, expect

from tests.mcp_gateway.conftest import MASTER as MCP
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.ui.conftest import ADMIN, MASTER, Dash, Tab
from tests.ui.test_mcp_page import tooled  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(300)
BLOCKED, REDACTED = "ui-guard-blocked", "ui-guard-redacted"


@pytest.fixture(scope="module")
def guarded(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"primary": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "primary", "model": "mock-gpt"}]}},
        "plugins": [
            {"plugin": "pii", "settings": {"entities": {"email": "redact"}}},
            {"plugin": "keywords", "settings": {"deny": ["forbidden phrase"]}},
        ],
        "storage": {"flush_interval": 0.05},
    }
    tmp = tmp_path_factory.mktemp("ui-guardrails")
    proc = start_gateway(config, tmp, "--host", "127.0.0.1", env={"TURNOUT_MASTER_KEY": MASTER})
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key=MASTER, max_retries=0)
    try:

        def chat(text: str, rid: str) -> None:
            client.chat.completions.create(
                model="gpt-test",
                messages=[{"role": "user", "content": text}],
                extra_headers={"x-request-id": rid},
            )

        chat("plain question", "ui-guard-plain")
        chat("write to ann@example.com please", REDACTED)
        with pytest.raises(openai.BadRequestError):
            chat("the forbidden phrase", BLOCKED)
        deadline = time.monotonic() + 20
        while len(logs(proc)) < 3:
            assert time.monotonic() < deadline, "the request log never held the three calls"
            time.sleep(0.05)
        yield proc
    finally:
        proc.stop()


def logs(gw: Proc) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = httpx.get(
        gw.url + "/admin/logs?from=1h", headers=ADMIN, timeout=10
    ).json()["rows"]
    return rows


@pytest.fixture
def tab(browser: Browser, guarded: Proc) -> Iterator[Tab]:
    t = Tab(browser, guarded.url)
    yield t
    t.close()


def test_guardrails_column_shows_each_decision(tab: Tab, guarded: Proc, tmp_path: Path) -> None:
    by_id = {r["request_id"]: r for r in logs(guarded)}
    assert by_id[BLOCKED]["guardrails"] == [["keywords", "forbidden phrase", "block"]]
    assert by_id[REDACTED]["guardrails"] == [["pii", "email", "redact"]]
    page = tab.sign_in(MASTER)
    tab.open("logs")
    table = page.get_by_test_id("log-table")
    for rid, (plugin, rule, action) in (
        (BLOCKED, ("keywords", "forbidden phrase", "block")),
        (REDACTED, ("pii", "email", "redact")),
    ):
        cell = table.locator(f'tr[data-request-id="{rid}"]').get_by_test_id("log-guardrails")
        decision = cell.locator(f'[data-guardrail="{plugin}/{rule}/{action}"]')
        expect(decision).to_have_count(1)
        expect(decision).to_contain_text(action)
        expect(decision).to_contain_text(plugin)
        expect(decision).to_contain_text(rule)
    tone = table.locator(f'tr[data-request-id="{BLOCKED}"] .decision .badge')
    expect(tone).to_have_class("badge bad")  # a block reads as a failure
    plain = table.locator('tr[data-request-id="ui-guard-plain"]').get_by_test_id("log-guardrails")
    expect(plain).to_have_text("\u2013")  # an en dash: nothing decided
    # Model calls show tokens, not bytes.
    expect(
        table.locator('tr[data-request-id="ui-guard-plain"] [data-col="in"]')
    ).not_to_have_attribute("data-unit", "bytes")
    table.locator(f'tr[data-request-id="{BLOCKED}"]').click()
    expect(page.get_by_test_id("detail-guardrails")).to_contain_text("forbidden phrase")
    page.get_by_role("button", name="Close").click()
    out = Path(os.environ.get("TURNOUT_UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "dashboard-logs-guardrails.png"), full_page=True)


def test_tool_calls_show_their_bytes(browser: Browser, tooled: Dash) -> None:  # noqa: F811
    deadline = time.monotonic() + 20
    while True:  # the request log is written in batches
        rows: list[dict[str, Any]] = httpx.get(
            tooled.url + "/admin/logs?protocol=mcp", headers={"authorization": f"Bearer {MCP}"}
        ).json()["rows"]
        if len(rows) == 4:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    assert all(r["bytes_in"] and r["bytes_out"] for r in rows)
    tab = Tab(browser, tooled.url)
    try:
        page = tab.sign_in(MCP)
        tab.open("logs")
        page.get_by_test_id("log-filters").locator('select[name="protocol"]').select_option("mcp")
        page.get_by_test_id("log-apply").click()
        shown = page.locator('[data-testid="log-table"] tbody tr[data-request-id]')
        expect(shown).to_have_count(4)
        for row in rows:
            line = page.locator(f'tr[data-request-id="{row["request_id"]}"]')
            expect(line).to_contain_text(row["model"])
            expect(line.get_by_test_id("log-kind")).to_contain_text("mcp tools/call")
            expect(line.locator('[data-col="in"]')).to_have_text(f"{row['bytes_in']} B")
            expect(line.locator('[data-col="out"]')).to_have_text(f"{row['bytes_out']} B")
    finally:
        tab.close()

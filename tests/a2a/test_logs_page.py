"""The dashboard's Logs page in headless Chromium for A2A calls: each row names its agent
(the model ``a2a/{name}``), its task id and the bytes in and out instead of tokens; the task
id filter lists one task's calls and state changes oldest first (a timeline); a row's
detail shows the same; a row's task id sets that filter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.a2a.conftest import MASTER
from tests.a2a.test_gateway import rpc, send_params
from tests.a2a.test_log_columns import rows_of
from tests.support.procs import Proc
from tests.ui.conftest import Tab, browser, playwright  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def tab(browser: Browser, a2a_gateway: Proc) -> Iterator[Tab]:  # noqa: F811 - the fixture
    t = Tab(browser, a2a_gateway.url)
    yield t
    t.close()


def fmt_bytes(n: int) -> str:
    """As the page's fmtBytes writes them."""
    if n < 1024:
        return f"{n} B"
    return f"{round(n / 1024, 1):g} kB"


def test_a2a_rows_show_agent_task_and_bytes(tab: Tab, a2a_gateway: Proc, tmp_path: Path) -> None:
    send = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("task: ui")}
    answer = rpc(a2a_gateway, "quick", send)
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["result"]["task"]["id"]
    get = {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": task_id}}
    assert rpc(a2a_gateway, "quick", get).status_code == 200
    api = rows_of(a2a_gateway, f"task_id={task_id}", 3)  # two calls, one state change
    calls = [r for r in api if r["task_state"] is None]
    state = next(r for r in api if r["task_state"] is not None)

    page = tab.sign_in(MASTER)
    tab.open("logs")
    filters = page.get_by_test_id("log-filters")
    filters.locator('input[name="task_id"]').fill(task_id)
    page.get_by_test_id("log-apply").click()
    rows = page.locator('[data-testid="log-table"] tbody tr[data-request-id]')
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("log-table")).to_have_attribute("data-order", "oldest-first")
    # The call, the state it left the task in, then the poll (which found nothing new).
    order = rows.evaluate_all("rs => rs.map(r => r.dataset.rowId)")
    sent = next(r for r in calls if r["operation"] == "SendMessage")
    polled = next(r for r in calls if r["operation"] == "GetTask")
    assert order == [sent["id"], state["id"], polled["id"]]
    change = page.locator(f'tr[data-row-id="{state["id"]}"]')
    expect(change).to_have_attribute("data-task-state", "completed")
    expect(change.get_by_test_id("log-task-state")).to_have_text("completed")
    expect(change.locator('[data-col="out"]')).to_have_text(fmt_bytes(state["bytes_out"]))
    for row in calls:
        shown = page.locator(f'tr[data-row-id="{row["id"]}"]')
        expect(shown).to_contain_text("a2a/quick")
        expect(shown.get_by_test_id("log-task")).to_have_attribute("title", task_id)
        expect(shown.locator('[data-col="in"]')).to_have_text(fmt_bytes(row["bytes_in"]))
        expect(shown.locator('[data-col="out"]')).to_have_text(fmt_bytes(row["bytes_out"]))
        expect(shown.locator('[data-col="in"]')).to_have_attribute("data-unit", "bytes")
    change.click()
    expect(page.get_by_test_id("detail-task-state")).to_have_text("completed")
    page.get_by_role("button", name="Close").click()
    page.locator(f'tr[data-row-id="{sent["id"]}"]').click()
    expect(page.get_by_test_id("detail-task")).to_have_text(task_id)
    expect(page.get_by_test_id("detail-bytes")).to_have_text(
        f"{fmt_bytes(sent['bytes_in'])} in · {fmt_bytes(sent['bytes_out'])} out"
    )
    page.get_by_role("button", name="Close").click()
    # The protocol filter lists A2A calls only, every one with its bytes.
    filters.locator('input[name="task_id"]').fill("")
    filters.locator('select[name="protocol"]').select_option("a2a")
    page.get_by_test_id("log-apply").click()
    expect(rows.first).to_be_visible()
    assert all(
        "a2a/" in text for text in rows.evaluate_all("rs => rs.map(r => r.cells[1].innerText)")
    )
    # A row's task id lists that task's rows.
    page.locator(f'tr[data-row-id="{sent["id"]}"]').get_by_test_id("log-task").click()
    expect(filters.locator('input[name="task_id"]')).to_have_value(task_id)
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("log-table")).to_have_attribute("data-order", "oldest-first")
    expect(page.get_by_test_id("log-detail")).to_have_count(0)
    out = Path(os.environ.get("TURNOUT_UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "dashboard-logs-a2a.png"), full_page=True)

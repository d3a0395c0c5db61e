"""The admin API's own page (/docs) in headless Chromium: every route is listed, and one can
be tried with the master key from the page.

Before (2026-12-08) the page showed "Unable to render this definition" and no route: the
bundled Swagger UI 4 cannot read the OpenAPI 3.1 document FastAPI writes. And the schema named
no credential, so the page had no Authorize button and every "Try it out" was a 401.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.ui.conftest import MASTER, Tab

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("docs"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def test_the_docs_page_lists_the_routes_and_tries_one_with_the_master_key(
    browser: Browser, gw: Proc
) -> None:
    tab = Tab(browser, gw.url)
    page = tab.page
    page.goto(gw.url + "/docs")
    config = page.locator(".opblock-summary-path", has_text="/admin/config").first
    expect(config).to_be_visible()
    assert page.locator(".opblock").count() > 30
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input").first.fill(MASTER)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    block = page.locator(".opblock-get", has=page.locator('[data-path="/admin/config"]')).first
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table tr.response .response-col_status").first
    expect(status).to_have_text("200")
    assert tab.unexpected() == []

"""The OAuth accounts page in headless Chromium: an admin signs a provider account in with
the device flow (the code approved at the test identity provider, a real process), sees it
active in the table, and removes it; the health page names the account, never its token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.integration.test_oauth_accounts import oauth_config, start_idp
from tests.support.procs import Proc, start_gateway
from tests.ui.conftest import MASTER, Tab

pytestmark = pytest.mark.timeout(300)
SECRET = "ui-secret-key-for-sealed-account-tokens-0123456789"


@pytest.fixture(scope="module")
def idp() -> Iterator[Proc]:
    proc = start_idp()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def oauth_gw(idp: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("accounts-ui")
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": SECRET}
    proc = start_gateway(oauth_config(idp, tmp / "turnout.db"), tmp, env=env, ready_within=60)
    yield proc
    proc.stop()


@pytest.fixture
def oauth_tab(browser: Browser, oauth_gw: Proc) -> Iterator[Tab]:
    tab = Tab(browser, oauth_gw.url)
    yield tab
    tab.close()


def test_an_admin_signs_an_account_in_and_removes_it(
    oauth_tab: Tab, oauth_gw: Proc, idp: Proc
) -> None:
    httpx.post(idp.url + "/_idp/user", json={"sub": "frank", "groups": []})
    page = oauth_tab.sign_in(MASTER)
    oauth_tab.open("accounts")
    expect(page.get_by_test_id("accounts-empty")).to_be_visible()
    page.get_by_test_id("account-name").fill("frank's")
    page.get_by_test_id("account-start").click()
    code = page.get_by_test_id("account-user-code")
    expect(code).to_be_visible()
    link = page.get_by_test_id("account-uri")  # the loopback IdP's page: a link
    assert (link.get_attribute("href") or "").startswith(idp.url + "/device?user_code=")
    approve = {"user_code": code.inner_text(), "sub": "frank"}
    assert httpx.post(idp.url + "/_idp/approve", json=approve).status_code == 200
    expect(page.get_by_test_id("account-done")).to_be_visible(timeout=30_000)
    row = page.locator('[data-testid="accounts"] tbody tr')
    expect(row).to_have_count(1, timeout=15_000)
    expect(row).to_contain_text("frank's")
    expect(row).to_contain_text("active")
    account = row.get_attribute("data-account") or ""
    assert account.startswith("acct_")

    oauth_tab.open("health")
    keys = page.locator('[data-testid="health-keys"]')
    expect(keys).to_contain_text(account)
    assert "at-" not in keys.inner_text()  # the token never shows

    oauth_tab.open("accounts")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("account-remove").click()
    expect(page.get_by_test_id("accounts-empty")).to_be_visible()


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:document.title='pwned'",
        "JavaScript:document.title='pwned'",
        "data:text/html,<script>document.title='pwned'</script>",
        "http://evil.example/device",  # plain http off this machine
    ],
)
def test_a_verification_uri_that_is_no_web_page_is_shown_as_text(
    oauth_tab: Tab, idp: Proc, uri: str
) -> None:
    """A provider (or whoever answers for its device endpoint) names the verification page:
    only an https page (http on loopback) becomes a link; the rest is text, never an href."""
    assert httpx.post(idp.url + "/_idp/verification", json={"uri": uri}).status_code == 200
    try:
        page = oauth_tab.sign_in(MASTER)
        oauth_tab.open("accounts")
        page.get_by_test_id("account-start").click()
        expect(page.get_by_test_id("account-user-code")).to_be_visible()
        shown = page.get_by_test_id("account-uri")
        expect(shown).to_have_text(uri)
        assert shown.evaluate("e => e.tagName") == "SPAN"
        assert page.locator('[data-testid="account-code"] [href]').count() == 0
        shown.click()
        assert page.title() != "pwned"
    finally:
        httpx.post(idp.url + "/_idp/verification", json={})

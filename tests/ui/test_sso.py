"""Single sign-on in headless Chromium: the sign-in page offers the identity provider
(tests/support/idp.py, a real process), the browser goes there and back through the real
redirects, lands on the page it started from with a session whose role comes from the ID
token's claims, a viewer cannot write, and signing out ends the session at the provider too."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.integration.test_oauth_accounts import start_idp
from tests.integration.test_oidc_signin import sso_config
from tests.support.procs import Proc, start_gateway
from tests.ui.conftest import MASTER, Tab

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def idp() -> Iterator[Proc]:
    proc = start_idp()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sso_gw(idp: Proc, mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        sso_config(idp, mock),
        tmp_path_factory.mktemp("sso"),
        env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=60,
    )
    yield proc
    proc.stop()


@pytest.fixture
def sso_tab(browser: Browser, sso_gw: Proc) -> Iterator[Tab]:
    tab = Tab(browser, sso_gw.url)
    yield tab
    tab.close()


def _as(idp: Proc, sub: str, groups: list[str]) -> None:
    user = {"sub": sub, "email": f"{sub}@x.test", "groups": groups}
    assert httpx.post(idp.url + "/_idp/user", json=user).status_code == 200


def test_an_operator_signs_in_with_sso_and_out_again(sso_tab: Tab, sso_gw: Proc, idp: Proc) -> None:
    _as(idp, "alice", ["ops"])
    page = sso_tab.page
    page.goto(sso_gw.url + "/ui/#/keys")
    page.get_by_test_id("signin-sso").click()
    page.get_by_test_id("nav-overview").wait_for()
    assert page.url.endswith("/ui/#/keys")  # back where the operator started
    expect(page.get_by_test_id("role")).to_have_text("oidc:alice · admin")
    [cookie] = [c for c in sso_tab.context.cookies() if c["name"] == "turnout_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    expect(page.get_by_test_id("read-only")).to_have_count(0)

    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-sso")).to_be_visible()
    assert any(u.startswith(idp.url + "/logout") for u in seen)  # the provider's session too
    assert page.request.get(sso_gw.url + "/admin/session").status == 401


def test_a_viewer_from_sso_reads_and_cannot_write(sso_tab: Tab, sso_gw: Proc, idp: Proc) -> None:
    _as(idp, "bob", ["staff"])
    page = sso_tab.page
    page.goto(sso_gw.url + "/ui/")
    page.get_by_test_id("signin-sso").click()
    page.get_by_test_id("nav-overview").wait_for()
    expect(page.get_by_test_id("role")).to_have_text("oidc:bob · viewer")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    sso_tab.allowed = (401, 403)
    csrf = page.evaluate("fetch('/admin/session').then(r => r.json()).then(j => j.csrf_token)")
    status = page.evaluate(
        """(csrf) => fetch('/admin/keys', {method: 'POST', headers: {
             'content-type': 'application/json', 'x-csrf-token': csrf},
             body: JSON.stringify({name: 'nope'})}).then(r => r.status)""",
        csrf,
    )
    assert status == 403


def test_an_account_with_no_role_gets_no_session(sso_tab: Tab, sso_gw: Proc, idp: Proc) -> None:
    _as(idp, "dave", ["nobody"])
    sso_tab.allowed = (401, 403)
    page = sso_tab.page
    page.goto(sso_gw.url + "/ui/")
    page.get_by_test_id("signin-sso").click()
    expect(page.locator("body")).to_contain_text("no role here")
    assert not [c for c in sso_tab.context.cookies() if c["name"] == "turnout_session"]


@pytest.mark.parametrize("escape", ["\t", "\n", "\r"])
def test_return_to_never_sends_the_browser_off_site(
    sso_tab: Tab, sso_gw: Proc, idp: Proc, escape: str
) -> None:
    """A URL parser drops tabs and newlines: ``/<tab>/evil.example/`` is ``//evil.example/``
    to the browser, a host of its own, so a sign-in link naming it must not send the operator
    there after signing in."""
    _as(idp, "alice", ["ops"])
    page = sso_tab.page
    page.route("http://evil.example/**", lambda route: route.fulfill(body="phished"))
    login = sso_gw.url + "/admin/oidc/login?return_to=" + quote(f"/{escape}/evil.example/")
    page.goto(login)
    page.wait_for_url(lambda url: "evil.example" in url or url.startswith(sso_gw.url + "/ui/"))
    assert page.url.startswith(sso_gw.url + "/ui/"), page.url


def test_a_link_on_another_site_does_not_sign_the_operator_out(
    sso_tab: Tab, sso_gw: Proc, idp: Proc
) -> None:
    """``GET /admin/oidc/logout`` is a link: another site's page that sends the operator's
    browser there must neither clear the session nor end the provider's session."""
    _as(idp, "alice", ["ops"])
    page = sso_tab.page
    page.goto(sso_gw.url + "/ui/")
    page.get_by_test_id("signin-sso").click()
    page.get_by_test_id("nav-overview").wait_for()
    trap = f'<a id="go" href="{sso_gw.url}/admin/oidc/logout">Read the news</a>'
    page.route(
        "http://evil.example/**", lambda route: route.fulfill(body=trap, content_type="text/html")
    )
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto("http://evil.example/")
    page.click("#go")
    page.wait_for_url(sso_gw.url + "/ui/**")
    page.locator('[data-testid="nav-overview"], [data-testid="signin-sso"]').first.wait_for()
    assert not [u for u in seen if u.startswith(idp.url + "/logout")], seen
    assert [c for c in sso_tab.context.cookies() if c["name"] == "turnout_session"]
    assert page.request.get(sso_gw.url + "/admin/session").status == 200
    expect(page.get_by_test_id("nav-overview")).to_be_visible()  # still signed in

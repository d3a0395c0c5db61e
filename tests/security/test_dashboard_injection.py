"""An upstream's page on the dashboard's origin: the gateway relays a model call's answer as it
came, content type included, and the dashboard lives on the same origin as the model API. A
hostile upstream that answers ``text/html`` (or no type at all, which a browser sniffs) with
a script put that script on the gateway's origin, where it reads the admin API with the
operator's dashboard cookie. Any page can make the operator's browser ask for such an
answer: a form posted as ``text/plain`` is a JSON body, and ``?key=`` carries the attacker's
own key. Every answer outside the dashboard's files and the admin API now says ``nosniff``
and carries a Content-Security-Policy with ``sandbox`` (an opaque origin, no script), and an
upstream's own policy headers are not relayed.

Headless Chromium signs in to the dashboard, then opens a page of another origin that posts
such a form; the upstream's script would set ``window.__pwned`` and read the session's CSRF
token from ``/admin/session``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.support.procs import Proc, start_gateway, start_scripted
from tests.ui.conftest import ADMIN, MASTER, Tab, browser, playwright

__all__ = ["browser", "playwright"]  # the browser fixtures, from the dashboard's tests
pytestmark = pytest.mark.timeout(300)

SCRIPT = (
    "<!doctype html><title>upstream</title><p>an upstream's page</p><script>"
    "window.__pwned = 1;"
    "fetch('/admin/session').then(r => r.json())"
    ".then(j => { window.__stolen = j.csrf_token || null; })"
    ".catch(() => { window.__stolen = null; });"
    "</script>"
)
# The scripted upstream writes ``type`` into its head as it is: a CRLF adds headers of its own.
OWN_POLICY = (
    "text/html\r\ncontent-security-policy: script-src * 'unsafe-inline'"
    "\r\nx-content-type-options: sniff-away\r\nx-frame-options: ALLOWALL"
)
ANSWERS = {
    "gpt-page": {"type": "text/html", "chunks": [SCRIPT]},  # a page, as its type says
    "gpt-bare": {"type": "", "chunks": [SCRIPT]},  # no type: a browser sniffs it
    "gpt-broken": {"status": 503, "type": OWN_POLICY, "chunks": [SCRIPT]},  # an error page
}
INERT = "sandbox"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str]]:
    tmp = tmp_path_factory.mktemp("upstream-pages")
    upstream = start_scripted(ANSWERS, tmp)
    config = {
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": upstream.url + "/v1",
                "api_keys": ["sk-upstream-0001"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
    }
    gw = start_gateway(config, tmp, "--host", "127.0.0.1", env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"name": "anyone"})
        assert made.status_code == 201, made.text
        yield gw, made.json()["key"]
    finally:
        gw.stop()
        upstream.stop()


def _call(gw: Proc, key: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        f"{gw.url}/v1/chat/completions?key={key}",
        content=json.dumps(body),
        headers={"content-type": "text/plain"},  # what a form of another site can send
    )


def _policies(answer: httpx.Response) -> list[str]:
    return answer.headers.get_list("content-security-policy")


@pytest.mark.parametrize("model", sorted(ANSWERS))
def test_an_upstream_answer_is_never_a_page_of_the_gateway(
    gateway: tuple[Proc, str], model: str
) -> None:
    gw, key = gateway
    answer = _call(gw, key, model)
    assert "window.__pwned" in answer.text  # relayed as it came: forwarded, not validated
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers.get_list("x-frame-options") == ["DENY"]
    policies = _policies(answer)
    assert len(policies) == 1 and INERT in policies[0], policies  # the upstream's is dropped
    assert "unsafe-inline" not in policies[0] and "frame-ancestors 'none'" in policies[0]


@pytest.mark.parametrize(
    "path",
    ["/v1/models", "/healthz", "/nowhere", "/v1/responses/resp_x", "/mcp", "/a2a/none", "/metrics"],
)
def test_every_answer_outside_the_dashboard_is_inert(gateway: tuple[Proc, str], path: str) -> None:
    answer = httpx.get(gateway[0].url + path)
    assert answer.headers.get("x-content-type-options") == "nosniff", (path, answer.headers)
    assert any(INERT in p for p in _policies(answer)), (path, answer.headers)


def test_the_dashboard_and_admin_api_keep_their_own_policy(gateway: tuple[Proc, str]) -> None:
    ui = httpx.get(gateway[0].url + "/ui/")
    (policy,) = _policies(ui)
    assert INERT not in policy and "script-src 'self'" in policy  # the page still runs
    for refused in (httpx.get(gateway[0].url + "/ui/nothing"), httpx.post(gateway[0].url + "/ui/")):
        assert refused.status_code in (404, 405)
        assert _policies(refused) == [policy], refused.headers
        assert refused.headers.get("x-content-type-options") == "nosniff"
    admin = httpx.get(gateway[0].url + "/admin/keys", headers=ADMIN)
    assert admin.status_code == 200
    (policy,) = _policies(admin)
    assert policy.startswith("default-src 'none'") and INERT not in policy


@pytest.mark.parametrize("model", sorted(ANSWERS))
def test_another_site_cannot_put_an_upstream_script_on_the_dashboard_origin(
    browser: Browser, gateway: tuple[Proc, str], model: str, tmp_path: Path
) -> None:
    gw, key = gateway
    tab = Tab(browser, gw.url)
    tab.allowed = (401, 503)
    try:
        page = tab.sign_in(MASTER)  # the operator's session cookie is in this browser
        # Another site's page (a file: here, another origin) posting the form on load.
        name = json.dumps({"model": model, "messages": [{"role": "user", "content": "x"}]})
        name = name[:-1] + ', "pad": "'
        lure = tmp_path / "lure.html"
        lure.write_text(
            f'<form method="post" enctype="text/plain" action="{gw.url}/v1/chat/completions'
            f"?key={key}\"><input type=\"hidden\" name='{name}' value='\"}}'></form>"
        )
        page.goto(lure.as_uri())
        with page.expect_navigation(url=f"{gw.url}/v1/chat/completions?key={key}"):
            page.evaluate("document.forms[0].submit()")
        page.wait_for_load_state("load")  # an inline script has run before its load event
        assert "an upstream&#39;s page" in page.content() or "an upstream's page" in page.content()
        if page.evaluate("() => window.__pwned ?? null") is not None:
            page.wait_for_function("() => window.__stolen !== undefined")
            stolen = page.evaluate("() => window.__stolen")
            pytest.fail(f"{model}: the upstream's script ran and read the CSRF token {stolen!r}")
    finally:
        tab.context.close()


def test_the_dashboard_refuses_markup_put_into_the_page_as_html(
    browser: Browser, gateway: tuple[Proc, str]
) -> None:
    """Trusted Types: a string given to an HTML sink (innerHTML, insertAdjacentHTML,
    document.write) throws instead of becoming markup, so a page of the dashboard that ever
    put a string another party chose into HTML fails loudly rather than rendering it."""
    gw, _ = gateway
    (policy,) = _policies(httpx.get(gw.url + "/ui/"))
    assert "require-trusted-types-for 'script'" in policy and "trusted-types 'none'" in policy
    tab = Tab(browser, gw.url)
    try:
        page = tab.sign_in(MASTER)
        outcome = page.evaluate(
            """() => { const box = document.createElement('div');
            document.body.append(box);
            try { box.innerHTML = '<img src=x>'; return 'markup' } catch (e) { return e.name } }"""
        )
        assert outcome == "TypeError"
        assert page.locator('img[src="x"]').count() == 0
    finally:
        tab.context.close()

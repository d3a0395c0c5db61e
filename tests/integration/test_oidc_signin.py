"""Operators sign in with OpenID Connect against a real identity provider process
(tests/support/idp.py): the code flow with PKCE, state and nonce, the ID token checked against
the provider's keys (also after it rotated them), claims mapped to admin, viewer and team
admin, and logout. A client that follows redirects and keeps cookies plays the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_auth import ADMIN, MASTER
from tests.integration.test_oauth_accounts import start_idp
from tests.support.idp import CLIENT_ID, CLIENT_SECRET
from tests.support.procs import Proc, mock_provider, start_gateway

pytestmark = pytest.mark.timeout(300)


def sso_config(idp: Proc, mock: Proc) -> dict[str, Any]:
    return {
        "providers": {"oa": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "oa", "model": "up"}]}},
        "auth": {
            "oidc": {
                "issuer": idp.url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "roles": {
                    "claim": "groups",
                    "admin": ["ops"],
                    "viewer": ["staff"],
                    "team_admin": {"search-leads": ["search"]},
                },
            }
        },
    }


@pytest.fixture(scope="module")
def idp() -> Iterator[Proc]:
    proc = start_idp()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gw(idp: Proc, mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("oidc")
    proc = start_gateway(
        sso_config(idp, mock), tmp, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=60
    )
    for team in ("search", "other"):
        made = httpx.post(proc.url + "/admin/teams", json={"name": team}, headers=ADMIN)
        assert made.status_code == 201, made.text
    yield proc
    proc.stop()


def sign_in(
    gw: Proc, idp: Proc, sub: str, groups: list[str]
) -> tuple[httpx.Client, httpx.Response]:
    httpx.post(
        idp.url + "/_idp/user", json={"sub": sub, "email": f"{sub}@x.test", "groups": groups}
    )
    browser = httpx.Client(follow_redirects=True, timeout=15)
    landed = browser.get(gw.url + "/admin/oidc/login", params={"return_to": "/ui/#/keys"})
    return browser, landed


def identity(browser: httpx.Client, gw: Proc) -> dict[str, Any]:
    got = browser.get(gw.url + "/admin/session")
    assert got.status_code == 200, got.text
    data: dict[str, Any] = got.json()
    return data


def test_sso_is_announced_and_an_admin_signs_in_and_writes(gw: Proc, idp: Proc) -> None:
    assert httpx.get(gw.url + "/admin/oidc").json() == {
        "enabled": True,
        "login": "/admin/oidc/login",
    }
    browser, landed = sign_in(gw, idp, "alice", ["ops", "staff"])
    assert landed.status_code == 200 and "Signed in" in landed.text
    assert 'url=/ui/#/keys"' in landed.text  # back where the operator started
    me = identity(browser, gw)
    assert me["role"] == "admin" and me["subject"] == "oidc:alice" and me["teams"] == []
    made = browser.post(
        gw.url + "/admin/keys", json={"name": "by-sso"}, headers={"x-csrf-token": me["csrf_token"]}
    )
    assert made.status_code == 201, made.text
    no_csrf = browser.post(gw.url + "/admin/keys", json={"name": "no-csrf"})
    assert no_csrf.status_code == 403


def test_a_viewer_reads_but_cannot_write(gw: Proc, idp: Proc) -> None:
    browser, landed = sign_in(gw, idp, "bob", ["staff"])
    assert landed.status_code == 200
    me = identity(browser, gw)
    assert me["role"] == "viewer"
    assert browser.get(gw.url + "/admin/keys").status_code == 200
    refused = browser.post(
        gw.url + "/admin/keys", json={"name": "nope"}, headers={"x-csrf-token": me["csrf_token"]}
    )
    assert refused.status_code == 403 and "Read-only" in refused.text


def test_a_team_admin_manages_only_its_teams_keys(gw: Proc, idp: Proc) -> None:
    browser, _ = sign_in(gw, idp, "carol", ["search-leads"])
    me = identity(browser, gw)
    assert me["role"] == "viewer" and me["teams"] == ["search"]
    csrf = {"x-csrf-token": me["csrf_token"]}
    own = browser.post(gw.url + "/admin/keys", json={"team": "search"}, headers=csrf)
    assert own.status_code == 201, own.text
    other = browser.post(gw.url + "/admin/keys", json={"team": "other"}, headers=csrf)
    assert other.status_code == 403
    theirs = httpx.post(gw.url + "/admin/keys", json={"team": "other"}, headers=ADMIN).json()
    assert browser.delete(f"{gw.url}/admin/keys/{theirs['id']}", headers=csrf).status_code == 403
    moved = browser.patch(
        f"{gw.url}/admin/keys/{own.json()['id']}", json={"team": "other"}, headers=csrf
    )
    assert moved.status_code == 403
    assert (
        browser.delete(f"{gw.url}/admin/keys/{own.json()['id']}", headers=csrf).status_code == 200
    )
    assert (
        browser.post(gw.url + "/admin/teams", json={"name": "x"}, headers=csrf).status_code == 403
    )


def test_a_team_admin_cannot_make_or_take_over_an_admin_key(gw: Proc, idp: Proc) -> None:
    """A team admin manages its teams' model keys, not the admin API: a key it creates or
    changes may carry no scope, and a key of its team that has one (made by an admin) is out of
    its reach, else rotating it would hand over an admin secret."""
    browser, _ = sign_in(gw, idp, "erin", ["search-leads"])
    csrf = {"x-csrf-token": identity(browser, gw)["csrf_token"]}
    for scopes in (["admin"], ["viewer"]):
        made = browser.post(
            gw.url + "/admin/keys", json={"team": "search", "scopes": scopes}, headers=csrf
        )
        assert made.status_code == 403, made.text
    own = browser.post(gw.url + "/admin/keys", json={"team": "search"}, headers=csrf)
    assert own.status_code == 201, own.text
    raised = browser.patch(
        f"{gw.url}/admin/keys/{own.json()['id']}", json={"scopes": ["admin"]}, headers=csrf
    )
    assert raised.status_code == 403, raised.text
    assert browser.get(f"{gw.url}/admin/keys/{own.json()['id']}").json()["scopes"] == []
    # An admin key an admin made in the team: neither rotated, changed nor revoked.
    strong = httpx.post(
        gw.url + "/admin/keys", json={"team": "search", "scopes": ["admin"]}, headers=ADMIN
    ).json()
    url = f"{gw.url}/admin/keys/{strong['id']}"
    assert browser.post(url + "/rotate", headers=csrf).status_code == 403
    assert browser.patch(url, json={"name": "mine"}, headers=csrf).status_code == 403
    assert browser.delete(url, headers=csrf).status_code == 403
    still = httpx.post(
        gw.url + "/admin/teams",
        json={"name": "t-" + strong["id"][-6:]},
        headers={"authorization": f"Bearer {strong['key']}"},
    )
    assert still.status_code == 201, still.text  # the admin key was not rotated away


def test_no_role_no_state_and_forged_state_are_refused(gw: Proc, idp: Proc) -> None:
    _, landed = sign_in(gw, idp, "dave", ["nobody"])
    assert landed.status_code == 403 and "no role" in landed.text
    # A callback that no sign-in of this browser started (a planted code).
    stray = httpx.get(gw.url + "/admin/oidc/callback", params={"code": "x", "state": "y"})
    assert stray.status_code == 400
    # A sign-in whose state is changed on the way back.
    browser = httpx.Client(follow_redirects=False, timeout=15)
    httpx.post(idp.url + "/_idp/user", json={"sub": "alice", "groups": ["ops"]})
    to_idp = browser.get(gw.url + "/admin/oidc/login")
    assert to_idp.status_code == 302
    back = httpx.get(to_idp.headers["location"], follow_redirects=False)
    callback = back.headers["location"].replace("state=", "state=forged")
    forged = browser.get(callback)
    assert forged.status_code == 400 and "state" in forged.text
    assert browser.get(gw.url + "/admin/session").status_code == 401


def test_the_providers_key_rotation_is_followed(gw: Proc, idp: Proc) -> None:
    httpx.post(idp.url + "/_idp/rotate-key")
    browser, landed = sign_in(gw, idp, "alice", ["ops"])
    assert landed.status_code == 200, landed.text
    assert identity(browser, gw)["role"] == "admin"


def test_logout_ends_the_session_here_and_at_the_provider(gw: Proc, idp: Proc) -> None:
    browser, _ = sign_in(gw, idp, "alice", ["ops"])
    assert identity(browser, gw)["role"] == "admin"
    seen: list[str] = []
    browser.event_hooks["request"] = [lambda r: seen.append(str(r.url))]
    out = browser.get(gw.url + "/admin/oidc/logout")
    assert out.status_code == 200  # back on the dashboard
    assert any(u.startswith(idp.url + "/logout") for u in seen)
    assert browser.get(gw.url + "/admin/session").status_code == 401
    assert CLIENT_SECRET not in gw.output() and "eyJ" not in gw.output()


def test_without_oidc_the_endpoints_say_so(mock: Proc, tmp_path: Path) -> None:
    plain = start_gateway({**sso_config(mock, mock), "auth": {}}, tmp_path, ready_within=60)
    try:
        assert httpx.get(plain.url + "/admin/oidc").json()["enabled"] is False
        assert httpx.get(plain.url + "/admin/oidc/login").status_code == 404
    finally:
        plain.stop()


def test_behind_an_https_redirect_url_the_cookies_are_secure(
    idp: Proc, mock: Proc, tmp_path: Path
) -> None:
    """A TLS proxy that sends no X-Forwarded-Proto: the registered ``redirect_url`` is https,
    so the browser is on https, and neither the sign-in's cookie nor the session's may ever
    go over plain HTTP."""
    config = sso_config(idp, mock)
    public = "https://gw.example"
    config["auth"]["oidc"]["redirect_url"] = public + "/admin/oidc/callback"
    proc = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=60)
    try:
        httpx.post(idp.url + "/_idp/user", json={"sub": "alice", "groups": ["ops"]})
        # Secure cookies: a plain-HTTP client keeps them back, so they are sent by hand.
        to_idp = httpx.get(proc.url + "/admin/oidc/login", follow_redirects=False)
        assert to_idp.status_code == 302
        assert "; Secure" in to_idp.headers["set-cookie"]
        pending = {"cookie": to_idp.headers["set-cookie"].split(";")[0]}
        back = httpx.get(to_idp.headers["location"], follow_redirects=False)
        landing = back.headers["location"]
        assert landing.startswith(public + "/admin/oidc/callback?")
        signed = httpx.get(proc.url + landing.removeprefix(public), headers=pending)
        assert signed.status_code == 200, signed.text
        cookies = signed.headers.get_list("set-cookie")
        assert len(cookies) == 2 and all("; Secure" in c for c in cookies), cookies
        session = next(c for c in cookies if c.startswith("turnout_session="))
        cookie = {"cookie": session.split(";")[0]}
        assert httpx.get(proc.url + "/admin/session", headers=cookie).status_code == 200
        out = httpx.get(proc.url + "/admin/oidc/logout", headers=cookie, follow_redirects=False)
        assert out.status_code == 302 and "; Secure" in out.headers["set-cookie"]
    finally:
        proc.stop()

"""The admin API behind the dashboard, through a real gateway: sign-in and sessions, CSRF,
roles, the rollup-backed stats (equal to the raw usage report), log filters, captures,
key rotation, the health keeper's schedule, and the static files at /ui."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "dash-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("dashapi")
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "gpt-test": {"cache": True, "deployments": [{"provider": "mock", "model": "up"}]},
            "other-test": {"deployments": [{"provider": "mock", "model": "up2"}]},
        },
        "routing": {"max_attempts": 1},
        "pricing": {"models": {"gpt-test": {"input": 1, "output": 2}}},
        "storage": {"flush_interval": 0.05},
        "capture": {"enabled": True, "dir": "captures"},
        "health": {"keeper": True, "interval": 600},
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


def admin(gw: Proc, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, timeout=10, **kw)


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = admin(gw, "POST", "/admin/keys", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def wait_for_rows(gw: Proc, n: int) -> dict[str, Any]:
    """The usage report once the log holds ``n`` rows (the writer batches every 50 ms)."""
    deadline = time.monotonic() + 15
    while True:
        total: dict[str, Any] = admin(gw, "GET", "/admin/usage?group_by=all").json()["total"]
        if total and total["requests"] >= n:
            return total
        assert time.monotonic() < deadline, total
        time.sleep(0.05)


def session(gw: Proc, key: str, **headers: str) -> tuple[httpx.Client, dict[str, Any]]:
    client = httpx.Client(base_url=gw.url, timeout=10)
    resp = client.post("/admin/session", json={"key": key}, headers=headers)
    assert resp.status_code == 200, resp.text
    return client, resp.json()


@pytest.fixture(scope="module")
def traffic(gw: Proc) -> dict[str, Any]:
    key, key_id = new_key(gw, name="app")
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    for i in range(6):
        client.chat.completions.create(
            model="gpt-test" if i % 2 else "other-test",
            messages=[{"role": "user", "content": f"n{i}"}],
        )
    for _ in client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "s"}], stream=True
    ):
        pass
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="other-test",
            messages=[{"role": "user", "content": "boom"}],
            extra_headers={"x-mock-status": "500", "x-request-id": "req-boom-1"},
        )
    total = wait_for_rows(gw, 8)
    return {"key": key, "key_id": key_id, "total": total}


def test_static_files_are_served_with_a_strict_policy(gw: Proc) -> None:
    resp = httpx.get(gw.url + "/ui", follow_redirects=False)
    assert resp.status_code == 308 and resp.headers["location"] == "/ui/"
    index = httpx.get(gw.url + "/ui/")
    assert index.status_code == 200 and '<div id="app">' in index.text
    csp = index.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and index.headers["x-frame-options"] == "DENY"
    for path in ("app.js", "lib.js", "pages/overview.js", "vendor/preact.mjs", "style.css"):
        asset = httpx.get(f"{gw.url}/ui/{path}")
        assert asset.status_code == 200, path
    etag = asset.headers["etag"]
    assert httpx.get(f"{gw.url}/ui/style.css", headers={"if-none-match": etag}).status_code == 304
    assert httpx.get(gw.url + "/ui/../pyproject.toml").status_code == 404
    assert httpx.get(gw.url + "/ui/nothing.js").status_code == 404
    assert httpx.post(gw.url + "/ui/app.js").status_code == 405


def test_sign_in_sets_a_strict_cookie_and_never_returns_the_key(gw: Proc) -> None:
    client, who = session(gw, MASTER)
    assert who["role"] == "admin" and who["subject"] == "master" and who["csrf_token"]
    assert MASTER not in str(who)
    resp = httpx.post(gw.url + "/admin/session", json={"key": MASTER})
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie and MASTER not in cookie
    tls = httpx.post(
        gw.url + "/admin/session", json={"key": MASTER}, headers={"x-forwarded-proto": "https"}
    )
    assert "; Secure" in tls.headers["set-cookie"]
    assert client.get("/admin/session").json()["role"] == "admin"
    # Behind a TLS proxy that sends no X-Forwarded-Proto, the page's Origin still says https
    # (a browser sends it with every POST and DELETE): the cookie must not go over plain HTTP.
    page = {"origin": "https://gw.example", "host": "gw.example"}
    proxied = httpx.post(gw.url + "/admin/session", json={"key": MASTER}, headers=page)
    assert proxied.status_code == 200 and "; Secure" in proxied.headers["set-cookie"]
    out = httpx.delete(
        gw.url + "/admin/session",
        headers={
            **page,
            "cookie": proxied.headers["set-cookie"].split(";")[0],
            "x-csrf-token": proxied.json()["csrf_token"],
        },
    )
    assert out.status_code == 200 and "; Secure" in out.headers["set-cookie"]
    assert client.get("/admin/keys").status_code == 200


def test_wrong_and_plain_keys_cannot_sign_in(gw: Proc, traffic: dict[str, Any]) -> None:
    wrong = httpx.post(gw.url + "/admin/session", json={"key": "sk-sy-not-a-key"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    plain = httpx.post(gw.url + "/admin/session", json={"key": traffic["key"]})
    assert plain.status_code == 403 and "model calls only" in plain.json()["detail"]
    assert httpx.get(gw.url + "/admin/session").status_code == 401
    assert httpx.post(gw.url + "/admin/session", json={}).status_code == 422


def test_writes_with_a_session_need_the_csrf_token(gw: Proc) -> None:
    client, who = session(gw, MASTER)
    refused = client.post("/admin/keys", json={"name": "no-csrf"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    forged = client.post("/admin/keys", json={"name": "x"}, headers={"x-csrf-token": "abc"})
    assert forged.status_code == 403
    made = client.post(
        "/admin/keys", json={"name": "with-csrf"}, headers={"x-csrf-token": who["csrf_token"]}
    )
    assert made.status_code == 201, made.text
    # A token belongs to its session: another session's token does not do.
    other, _ = session(gw, MASTER)
    crossed = other.post(
        "/admin/keys", json={"name": "y"}, headers={"x-csrf-token": who["csrf_token"]}
    )
    assert crossed.status_code == 403
    # A page of another origin is refused even with the token.
    foreign = client.post(
        "/admin/keys",
        json={"name": "z"},
        headers={"x-csrf-token": who["csrf_token"], "origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and "Cross-origin" in foreign.json()["detail"]
    signin = httpx.post(
        gw.url + "/admin/session", json={"key": MASTER}, headers={"origin": "https://evil.example"}
    )
    assert signin.status_code == 403 and "set-cookie" not in signin.headers


def test_a_viewer_reads_everything_and_writes_nothing(gw: Proc) -> None:
    viewer, _ = new_key(gw, name="ops", scopes=["viewer"])
    client, who = session(gw, viewer)
    assert who["role"] == "viewer"
    csrf = {"x-csrf-token": who["csrf_token"]}
    for path in ("/admin/keys", "/admin/teams", "/admin/stats/overview", "/admin/health"):
        assert client.get(path).status_code == 200, path
    for method, path in (("POST", "/admin/keys"), ("DELETE", "/admin/cache")):
        resp = client.request(method, path, json={"name": "x"}, headers=csrf)
        assert resp.status_code == 403 and "Read-only" in resp.json()["detail"], path
    # The same with the key itself as a header.
    as_key = {"authorization": f"Bearer {viewer}"}
    assert httpx.get(gw.url + "/admin/keys", headers=as_key).status_code == 200
    resp = httpx.post(gw.url + "/admin/keys", headers=as_key, json={"name": "x"})
    assert resp.status_code == 403


def test_an_admin_key_signs_in_and_its_sessions_end_with_it(gw: Proc) -> None:
    key, key_id = new_key(gw, name="ops-admin", scopes=["admin"])
    client, who = session(gw, key)
    assert who == {**who, "role": "admin", "subject": key_id}
    csrf = {"x-csrf-token": who["csrf_token"]}
    made = client.post("/admin/teams", json={"name": "made-by-session"}, headers=csrf)
    assert made.status_code == 201, made.text
    assert admin(gw, "POST", f"/admin/keys/{key_id}/revoke").status_code == 200
    assert client.get("/admin/keys").status_code == 401


def test_signing_out_ends_the_session(gw: Proc) -> None:
    client, who = session(gw, MASTER)
    token = client.cookies["turnout_session"]
    assert client.delete("/admin/session").status_code == 403  # a write: CSRF needed
    out = client.delete("/admin/session", headers={"x-csrf-token": who["csrf_token"]})
    assert out.status_code == 200 and "Max-Age=0" in out.headers["set-cookie"]
    replayed = httpx.get(gw.url + "/admin/keys", cookies={"turnout_session": token})
    assert replayed.status_code == 401
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert (
        httpx.get(gw.url + "/admin/keys", cookies={"turnout_session": tampered}).status_code == 401
    )


def test_stats_equal_the_raw_usage_report(gw: Proc, traffic: dict[str, Any]) -> None:
    usage = admin(gw, "GET", "/admin/usage?group_by=model").json()
    series = admin(gw, "GET", "/admin/stats/series?group_by=model&from=1h").json()
    assert series["source"] == "route_minute" and series["step"] == 60
    raw = {g["group"]: g for g in usage["groups"]}
    rolled = {g["group"]: g["total"] for g in series["groups"]}
    assert set(raw) == set(rolled)
    for model, g in raw.items():
        for field in ("requests", "errors", "input_tokens", "output_tokens", "cost_usd"):
            assert rolled[model][field] == g[field], (model, field)
        assert (
            sum(next(s for s in series["groups"] if s["group"] == model)["series"]["requests"])
            == (g["requests"])
        )
    keys = admin(gw, "GET", "/admin/stats/series?group_by=key&from=1h").json()
    assert keys["source"] == "caller_hour"
    by_key = {g["group"]: g["total"]["requests"] for g in keys["groups"]}
    assert by_key[traffic["key_id"]] == traffic["total"]["requests"]
    overview = admin(gw, "GET", "/admin/stats/overview?window=15m").json()
    assert sum(overview["series"]["requests"]) == traffic["total"]["requests"]
    assert sum(overview["series"]["errors"]) == traffic["total"]["errors"] == 1
    assert overview["current"]["requests"] == traffic["total"]["requests"]
    assert overview["current"]["latency_p95"] is not None
    assert overview["spend"]["today"]["cost_usd"] == pytest.approx(traffic["total"]["cost_usd"])
    bad = admin(gw, "GET", "/admin/stats/series?group_by=colour")
    assert bad.status_code == 400
    assert admin(gw, "GET", "/admin/stats/overview?window=2y").status_code == 400
    assert admin(gw, "GET", "/admin/stats/series?from=7d&step=60").status_code == 400


def test_logs_filter_by_the_dashboard_fields(gw: Proc, traffic: dict[str, Any]) -> None:
    def rows(query: str) -> list[dict[str, Any]]:
        resp = admin(gw, "GET", f"/admin/logs?{query}")
        assert resp.status_code == 200, resp.text
        return list(resp.json()["rows"])

    failed = rows("errors=true")
    assert [r["request_id"] for r in failed] == ["req-boom-1"]
    assert failed[0]["error"] == rows("error=" + failed[0]["error"])[0]["error"]
    streams = rows("stream=true")
    assert len(streams) == 1 and streams[0]["ttft_ms"] is not None
    assert len(rows("protocol=openai")) == traffic["total"]["requests"]
    assert rows("protocol=gemini") == []
    assert admin(gw, "GET", "/admin/logs?stream=maybe").status_code == 422


def test_captures_are_read_back_redacted(gw: Proc, traffic: dict[str, Any]) -> None:
    deadline = time.monotonic() + 10
    while (resp := admin(gw, "GET", "/admin/captures/req-boom-1")).status_code == 404:
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.05)
    assert resp.status_code == 200
    capture = resp.json()["capture"]
    assert capture["request_id"] == "req-boom-1" and capture["response"]["status"] == 500
    assert traffic["key"] not in resp.text and "sk-test-upstream" not in resp.text
    assert admin(gw, "GET", "/admin/captures/no-such-request").status_code == 404


def test_rotating_a_key_keeps_it_and_changes_its_secret(gw: Proc) -> None:
    old, key_id = new_key(gw, name="rotate-me", rpm=100)
    rotated = admin(gw, "POST", f"/admin/keys/{key_id}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["key"]
    assert new != old and rotated.json()["id"] == key_id and rotated.json()["rpm"] == 100

    def call(key: str) -> None:
        openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0).models.list()

    call(new)
    with pytest.raises(openai.AuthenticationError):
        call(old)
    admin(gw, "POST", f"/admin/keys/{key_id}/revoke")
    assert admin(gw, "POST", f"/admin/keys/{key_id}/rotate").status_code == 409


def test_health_reports_the_keepers_schedule(gw: Proc) -> None:
    report = admin(gw, "GET", "/admin/health").json()
    keeper = report["keeper"]
    assert keeper["enabled"] is True and keeper["interval"] == 600
    assert {p["key"] for p in keeper["probes"]} == {k["id"] for k in report["keys"]}
    assert all(p["next_in"] is None or p["next_in"] <= 600 * 1.2 for p in keeper["probes"])


def test_the_new_endpoints_are_in_the_openapi_document(gw: Proc) -> None:
    paths = httpx.get(gw.url + "/openapi.json").json()["paths"]
    for path in (
        "/admin/stats/overview",
        "/admin/stats/series",
        "/admin/session",
        "/admin/captures/{request_id}",
        "/admin/keys/{key_id}/rotate",
    ):
        assert path in paths, path
    assert "Overview" in str(paths["/admin/stats/overview"])


def test_an_open_gateway_needs_no_sign_in(mock: Proc, tmp_path: Any) -> None:
    """No master key and no keys: the admin API is open, and the dashboard says so."""
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(config, tmp_path)
    try:
        who = httpx.get(proc.url + "/admin/session").json()
        assert who["authentication"] is False and who["role"] == "admin"
        assert who["subject"] is None and who["csrf_token"] is None
        assert httpx.get(proc.url + "/admin/stats/overview").status_code == 200
    finally:
        proc.stop()

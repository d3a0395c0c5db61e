"""Every page of the dashboard in headless Chromium, against a gateway that served real
traffic: the numbers on the pages equal what the admin API returns, the writes work (keys,
cache), and sign-in keeps out wrong keys and keeps viewers from writing."""

from __future__ import annotations

import csv
import io
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import MASTER, Dash, Tab

PAGES = ("overview", "usage", "logs", "health", "keys", "models", "cache", "mcp", "agents")
pytestmark = pytest.mark.timeout(300)


def usd(value: float | None) -> str:
    """The page's money format (lib.js fmtUsd: Intl rounds the shortest decimal form of the
    number half away from zero)."""
    if value is None:
        return "unpriced"
    if value == 0:
        return "$0"
    digits = 2 if abs(value) >= 1 else 6
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    text = f"{rounded:,f}"
    return "$" + (text.rstrip("0").rstrip(".") if "." in text else text)


def cell(page: Page, table: str, row: str, column: str) -> Any:
    return page.locator(f'[data-testid="{table}"] tr[data-group="{row}"] [data-col="{column}"]')


def test_a_wrong_key_cannot_sign_in(tab: Tab, dash: Dash) -> None:
    tab.allowed = (401, 403)
    page = tab.page
    page.goto(dash.url + "/ui/")
    for key, message in (
        ("sk-sy-not-a-real-key", "Invalid key"),
        (dash.keys["batch-jobs"], "model calls only"),
    ):
        page.get_by_test_id("signin-key").fill(key)
        page.get_by_test_id("signin-submit").click()
        expect(page.get_by_test_id("signin-error")).to_contain_text(message)
        expect(page.get_by_test_id("nav-overview")).to_have_count(0)
        assert page.get_by_test_id("signin-key").input_value() == ""  # not kept in the page
    assert not [c for c in tab.context.cookies() if c["name"] == "turnout_session"]


def test_sign_in_sets_an_httponly_strict_cookie_and_sign_out_ends_it(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    [cookie] = [c for c in tab.context.cookies() if c["name"] == "turnout_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert MASTER not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # out of the page's reach
    assert MASTER not in page.evaluate(
        "JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"
    )
    expect(page.get_by_test_id("role")).to_have_text("master · admin")
    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-key")).to_be_visible()
    assert page.request.get(dash.url + "/admin/keys").status == 401


def test_overview_shows_the_traffic(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    api = dash.admin("GET", "/admin/stats/overview?window=1h")
    total, errors = sum(api["series"]["requests"]), sum(api["series"]["errors"])
    assert total == dash.sent and errors == 1
    expect(page.get_by_test_id("ov-requests")).to_have_text(f"{total:,}")
    expect(page.locator(".stat", has=page.get_by_test_id("ov-requests"))).to_contain_text(
        f"{errors} failed"
    )
    expect(page.get_by_test_id("ov-spend-today")).to_have_text(
        usd(api["spend"]["today"]["cost_usd"])
    )
    expect(page.get_by_test_id("ov-spend-month")).to_have_text(
        usd(api["spend"]["month"]["cost_usd"])
    )
    expect(page.get_by_test_id("ov-error-rate")).to_have_text(
        f"{round(api['current']['error_rate'] * 100, 2):g}%"
    )
    for chart in ("chart-requests", "chart-latency", "chart-ttft", "chart-tokens"):
        expect(page.get_by_test_id(chart).locator("canvas")).to_be_visible()
    drawn = page.evaluate(
        """() => {
          const canvas = document.querySelector('[data-testid=chart-requests] canvas');
          return Chart.getChart(canvas).data.datasets.map((d) => d.data.reduce((a, b) => a + b));
        }"""
    )
    assert drawn == [total - errors, errors]
    # Live: a new request shows up within a refresh (5 s), without reloading the page.
    dash.openai(dash.keys["batch-jobs"]).chat.completions.create(
        model="claude-test", messages=[{"role": "user", "content": "while you watch"}]
    )
    dash.sent += 1
    expect(page.get_by_test_id("ov-requests")).to_have_text(f"{total + 1:,}", timeout=20_000)


@pytest.mark.parametrize(
    ("group_by", "button", "usage_group"),
    [
        ("model", "Model", "model"),
        ("provider", "Provider", "provider"),
        ("deployment", "Deployment", "deployment"),
        ("key", "Key", "key"),
        ("team", "Team", "team"),
    ],
)
def test_usage_tables_equal_the_admin_api(
    tab: Tab, dash: Dash, group_by: str, button: str, usage_group: str
) -> None:
    page = tab.sign_in(MASTER)
    tab.open("usage")
    page.get_by_role("button", name=button, exact=True).click()
    series = dash.admin("GET", f"/admin/stats/series?group_by={group_by}&from=24h")
    usage = {
        g["group"]: g for g in dash.admin("GET", f"/admin/usage?group_by={usage_group}")["groups"]
    }
    assert {g["group"] for g in series["groups"]} == set(usage)
    for g in series["groups"]:
        name, total = g["group"] or "", g["total"]
        raw = usage[g["group"]]
        for column in ("requests", "errors", "input_tokens", "output_tokens"):
            assert total[column] == raw[column], (name, column)
            expect(cell(page, "usage-table", name, column)).to_have_text(f"{total[column]:,}")
        assert total["cost_usd"] == pytest.approx(raw["cost_usd"])
        expect(cell(page, "usage-table", name, "cost")).to_have_text(usd(total["cost_usd"]))
    expect(cell(page, "usage-table", "__total", "requests")).to_have_text(f"{dash.sent:,}")
    drawn = page.evaluate(
        """() => {
          const canvas = document.querySelector('[data-testid=chart-usage] canvas');
          return Chart.getChart(canvas).data.datasets.map((d) => d.data.reduce((a, b) => a + b));
        }"""
    )
    assert drawn == [g["total"]["requests"] for g in series["groups"]]  # one stack per group
    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sum(int(r["requests"]) for r in rows) == dash.sent
    by_group: dict[str, int] = {}
    for r in rows:
        by_group[r[group_by]] = by_group.get(r[group_by], 0) + int(r["requests"])
    assert by_group == {(g["group"] or ""): g["total"]["requests"] for g in series["groups"]}


def test_request_log_lists_filters_and_details(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    tab.open("logs")
    api = dash.admin("GET", "/admin/logs?from=24h&limit=50")["rows"]
    rows = page.locator('[data-testid="log-table"] tbody tr[data-request-id]')
    expect(rows).to_have_count(len(api))
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.requestId)") == [
        r["request_id"] for r in api
    ]
    filters = page.get_by_test_id("log-filters")
    filters.locator('input[name="errors"]').check()
    page.get_by_test_id("log-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-request-id", dash.failed_request_id)
    expect(rows.first).to_contain_text("500")
    rows.first.click()
    detail = page.get_by_test_id("log-detail")
    expect(detail).to_contain_text(dash.failed_request_id)
    expect(detail).to_contain_text("server_error")
    expect(page.get_by_test_id("detail-attempts")).to_contain_text("primary/mock-claude")
    page.get_by_test_id("detail-load-capture").click()
    capture = page.get_by_test_id("detail-capture")
    expect(capture).to_contain_text('"status": 500')
    text = capture.inner_text()
    assert "[redacted]" in text
    assert not any(secret in text for secret in (*dash.keys.values(), MASTER, "sk-test-upstream"))
    page.get_by_role("button", name="Close").click()
    filters.locator('input[name="errors"]').uncheck()
    for field, value, expected in (("stream", "true", 1), ("protocol", "anthropic", 1)):
        filters.locator(f'select[name="{field}"]').select_option(value)
        page.get_by_test_id("log-apply").click()
        expect(rows).to_have_count(expected)
        filters.locator(f'select[name="{field}"]').select_option("")
    filters.locator('input[name="model"]').fill("embed-test")
    page.get_by_test_id("log-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("backup/mock-embed")


def test_health_page_matches_the_admin_api(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    tab.open("health")
    report = dash.admin("GET", "/admin/health")
    for d in report["deployments"]:
        row = page.locator(f'[data-testid="health-deployments"] tr[data-deployment="{d["id"]}"]')
        expect(row).to_contain_text(d["state"].replace("_", " "))
        expect(row).to_contain_text(", ".join(d["models"]))
    keys = page.locator('[data-testid="health-keys"] tbody tr')
    expect(keys).to_have_count(len(report["keys"]))
    expect(page.get_by_test_id("health-keeper")).to_contain_text("every 900 s")
    expect(page.get_by_test_id("health-keeper")).to_contain_text(
        f"Scheduled probes{len(report['keeper']['probes'])}"
    )


def test_models_page_shows_the_routing_table(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    tab.open("models")
    config = dash.admin("GET", "/admin/config")
    for name, model in config["models"].items():
        row = page.locator(f'[data-testid="models-table"] tr[data-model="{name}"]')
        expect(row).to_contain_text(model["strategy"])
        for d in model["deployments"]:
            expect(row).to_contain_text(f"{d['provider']}/{d['model']}")
            expect(row).to_contain_text(f"tier {d['priority']}")
    for name, provider in config["providers"].items():
        row = page.locator(f'[data-testid="providers-table"] tr[data-provider="{name}"]')
        expect(row).to_contain_text(provider["api_keys"][0])


def test_keys_are_created_used_and_revoked(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    tab.open("keys")
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator('[data-testid="keys-table"] tr', has_text="search-app")).to_contain_text(
        "of $2 / month"
    )
    form = page.get_by_test_id("key-form")
    form.locator('input[name="name"]').fill("made-in-the-ui")
    form.locator('select[name="team"]').select_option("search")
    form.locator('input[name="rpm"]').fill("100")
    page.get_by_test_id("key-create").click()
    secret = page.get_by_test_id("new-key").inner_text().strip()
    assert secret.startswith("sk-sy-")
    page.get_by_test_id("new-key-done").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)  # shown once
    row = page.locator('[data-testid="keys-table"] tr', has_text="made-in-the-ui")
    expect(row).to_contain_text("100 rpm")
    made = next(
        k for k in dash.admin("GET", "/admin/keys")["keys"] if k["name"] == "made-in-the-ui"
    )
    assert made["team"] == "search" and made["rpm"] == 100
    reply = dash.openai(secret).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "from a key made in the UI"}]
    )
    dash.sent += 1
    assert reply.choices[0].message.content
    row.get_by_test_id("key-revoke").click()
    expect(row).to_have_count(0)  # revoked keys are listed only on request
    page.get_by_text("show revoked").click()
    expect(row).to_contain_text("revoked")
    with pytest.raises(openai.AuthenticationError):
        dash.openai(secret).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "again"}]
        )
    dash.sent += 1  # refused calls are in the request log too


def test_cache_stats_and_purge(tab: Tab, dash: Dash) -> None:
    page = tab.sign_in(MASTER)
    tab.open("cache")
    stats = dash.admin("GET", "/admin/cache/stats")
    assert stats["hits"] >= 1 and stats["entries"] >= 1
    expect(page.get_by_test_id("cache-hits")).to_have_text(f"{stats['hits']:,}")
    expect(page.get_by_test_id("cache-entries")).to_have_text(f"{stats['entries']:,}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("cache-purge").click()
    expect(page.get_by_test_id("cache-purged")).to_have_text(
        f"Purged {stats['entries']:,} entries."
    )
    expect(page.get_by_test_id("cache-entries")).to_have_text("0")
    assert dash.admin("GET", "/admin/cache/stats")["entries"] == 0
    raw = dash.openai(dash.keys["search-app"]).chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "question 0"}]
    )
    dash.sent += 1
    assert raw.headers["x-turnout-cache"] == "miss"  # it was a hit before the purge


def test_a_viewer_sees_everything_and_cannot_write(tab: Tab, dash: Dash) -> None:
    tab.allowed = (401, 403)
    page = tab.sign_in(dash.keys["ops-viewer"])
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text(f"{dash.key_ids['ops-viewer']} · viewer")
    expect(page.get_by_test_id("ov-requests")).to_have_text(f"{dash.sent:,}")
    tab.open("keys")
    expect(page.locator('[data-testid="keys-table"] tr', has_text="search-app")).to_be_visible()
    expect(page.get_by_test_id("key-create")).to_be_disabled()
    for button in page.get_by_test_id("key-revoke").all():
        expect(button).to_be_disabled()
    tab.open("cache")
    expect(page.get_by_test_id("cache-purge")).to_be_disabled()
    for name in PAGES:
        tab.open(name)
        expect(page.locator(".error")).to_have_count(0)
    # Even a write the page is made to send is refused by the gateway.
    status = page.evaluate(
        """async () => {
          const who = await (await fetch('/admin/session')).json();
          const r = await fetch('/admin/keys', {method: 'POST', headers: {
            'content-type': 'application/json', 'x-csrf-token': who.csrf_token},
            body: JSON.stringify({name: 'viewer-made'})});
          return [r.status, (await r.json()).detail];
        }"""
    )
    assert status[0] == 403 and "Read-only" in status[1]
    assert not [k for k in dash.admin("GET", "/admin/keys")["keys"] if k["name"] == "viewer-made"]


def test_an_admin_scoped_key_signs_in(tab: Tab, dash: Dash) -> None:
    made = dash.admin("POST", "/admin/keys", json={"name": "ops-admin", "scopes": ["admin"]})
    page = tab.sign_in(made["key"])
    expect(page.get_by_test_id("role")).to_have_text(f"{made['id']} · admin")
    expect(page.get_by_test_id("read-only")).to_have_count(0)


def test_narrow_window_and_dark_theme(tabs: Any, dash: Dash) -> None:
    tab = tabs(viewport={"width": 420, "height": 800}, color_scheme="dark")
    page = tab.sign_in(MASTER)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    for name in PAGES:
        tab.open(name)
        expect(page.locator("h1")).to_have_count(1)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (name, width)  # wide tables scroll inside their card
    page.get_by_test_id("theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator("body")).to_have_css("background-color", "rgb(246, 247, 249)")
    assert dark == "rgb(15, 18, 22)"


def test_screenshots_of_every_page(tabs: Any, dash: Dash, tmp_path: Path) -> None:
    """One picture per page (the README and docs/dashboard.md show them when written with
    TURNOUT_UI_SCREENSHOTS=docs/img)."""
    out = Path(os.environ.get("TURNOUT_UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    ready = {
        "overview": "ov-requests",
        "usage": "usage-table",
        "logs": "log-table",
        "health": "health-deployments",
        "keys": "keys-table",
        "models": "models-table",
        "cache": "cache-entries",
        "mcp": "mcp-none",
        "agents": "agents-none",
    }
    for scheme, width, pages in (("light", 1280, PAGES), ("dark", 1280, ("overview",))):
        tab = tabs(viewport={"width": width, "height": 800}, color_scheme=scheme)
        page = tab.sign_in(MASTER)
        for name in pages:
            tab.open(name)
            # The traffic is a minute old: the shortest ranges show it best.
            if name == "overview":
                page.get_by_role("button", name="15 min", exact=True).click()
            if name == "usage":
                page.get_by_role("button", name="1 hour", exact=True).click()
            expect(page.get_by_test_id(ready[name])).to_be_visible()
            page.wait_for_load_state("networkidle")
            suffix = "" if scheme == "light" else f"-{scheme}"
            page.screenshot(path=str(out / f"dashboard-{name}{suffix}.png"))
    narrow = tabs(viewport={"width": 420, "height": 800}, color_scheme="light")
    narrow.sign_in(MASTER)
    expect(narrow.page.get_by_test_id("ov-requests")).to_be_visible()
    narrow.page.screenshot(path=str(out / "dashboard-narrow.png"))
    assert len(list(out.glob("dashboard-*.png"))) >= len(PAGES) + 2

"""The dashboard's Routers page: the learned router a model group serves, its held-out
figures and the decisions it made, equal to what ``GET /admin/routers`` returns."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.ui.conftest import ADMIN, MASTER, Dash, Tab
from tests.unit.router.synth import rows
from turnout.router.evaluation import evaluate
from turnout.router.features import FeatureConfig
from turnout.router.store import Registry
from turnout.router.training import train

pytestmark = pytest.mark.timeout(300)
EASY = [
    "What is the capital of Peru?",
    "Say hello to Maria politely.",
    "Give me a synonym for river.",
]
HARD = ["Prove that the sum of the first 9 odd numbers equals 9 squared, rigorously."]


@pytest.fixture(scope="module")
def routed(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    tmp: Path = tmp_path_factory.mktemp("ui-routers")
    trained = train(rows(300), "knn", features=FeatureConfig(dims=16))
    report = evaluate(trained.model, trained.heldout)
    metrics = {"router_apgr": report["curves"]["router"]["apgr"], "strong": report["strong"],
               "router_cpt50": report["curves"]["router"]["cpt50"],
               "router_cpt80": report["curves"]["router"]["cpt80"]}  # fmt: skip
    Registry(tmp / "routers").save(trained.model, metrics=metrics, data=trained.data)
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "auto": {
                "strategy": "knn",
                "strategy_options": {"router_version": "v0001"},
                "deployments": [
                    {"provider": "mock", "model": "cheap-1"},
                    {"provider": "mock", "model": "strong-1"},
                ],
            },
            "plain": {"deployments": [{"provider": "mock", "model": "x"}]},
        },
        "storage": {"url": "memory://"},
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=90)
    dash = Dash(proc)
    client = dash.openai(MASTER)
    for text in [*EASY, *HARD]:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": text}])
        dash.sent += 1
    try:
        yield dash
    finally:
        proc.stop()


@pytest.fixture
def page_tab(browser: Browser, routed: Dash) -> Iterator[Tab]:
    tab = Tab(browser, routed.url)
    yield tab
    tab.close()


def test_routers_page_equals_the_admin_api(page_tab: Tab, routed: Dash) -> None:
    api: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while True:  # decisions are counted by the log drain, every 50 ms
        api = httpx.get(routed.url + "/admin/routers", headers=ADMIN, timeout=10).json()
        if sum(d["count"] for d in api["routers"][0]["decisions"]) == routed.sent:
            break
        assert time.monotonic() < deadline, api
        time.sleep(0.05)
    (entry,) = api["routers"]  # "plain" uses no learned strategy
    assert entry["model"] == "auto" and entry["manifest"]["version"] == "v0001"
    assert {(d["pick"], d["outcome"]) for d in entry["decisions"]} >= {("mock/cheap-1", "routed")}
    page = page_tab.sign_in(MASTER)
    page_tab.open("routers")
    card = page.locator('[data-testid="router"][data-model="auto"]')
    expect(card.get_by_test_id("router-version")).to_contain_text("v0001")
    apgr = entry["manifest"]["metrics"]["router_apgr"]
    expect(card.get_by_test_id("router-apgr")).to_contain_text(f"{apgr:.3f}")
    for d in entry["decisions"]:
        row = card.locator(f'tr[data-pick="{d["pick"]}"][data-outcome="{d["outcome"]}"]')
        expect(row.locator('[data-col="count"]')).to_have_text(str(d["count"]))
    expect(page.locator(".error")).to_have_count(0)
    out = os.environ.get("TURNOUT_UI_SCREENSHOTS")
    if out:
        page.screenshot(path=str(Path(out) / "dashboard-routers.png"), full_page=True)

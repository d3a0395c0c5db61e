"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

One gateway per module in front of the session's mock provider, with a master key, capture,
a cached model and the health keeper; real traffic is sent through it with the official SDKs
(several models and keys, a stream, an error, embeddings, an Anthropic call, a cache hit)
before any page is opened. Playwright never downloads a browser: it drives
``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it).

Set ``TURNOUT_UI_SCREENSHOTS=docs/img`` to write the documentation's screenshots.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.support.procs import Proc, mock_provider, start_gateway

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MASTER = "ui-master-key-0123456789"
SECRET = "ui-secret-key-for-sealed-provider-keys-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
pytestmark = pytest.mark.timeout(300)


def _chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the browser tests")
    pytest.skip(message)
    raise AssertionError


# Module-scoped: sync Playwright runs an event loop of its own while it is open, which the
# asyncio tests that run after these must not find running.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=_chromium(), args=ARGS)
    yield browser
    browser.close()


@dataclass
class Dash:
    """The gateway under test and what was sent through it."""

    gw: Proc
    keys: dict[str, str] = field(default_factory=dict)  # name -> secret
    key_ids: dict[str, str] = field(default_factory=dict)  # name -> id
    sent: int = 0
    failed_request_id: str = "ui-boom-1"

    @property
    def url(self) -> str:
        return self.gw.url

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        resp = httpx.request(method, self.gw.url + path, headers=ADMIN, timeout=10, **kw)
        assert resp.status_code < 400, resp.text
        return resp.json()

    def wait_for_rows(self) -> None:
        """Until the request log holds every request sent (the writer batches them)."""
        deadline = time.monotonic() + 20
        while True:
            total = self.admin("GET", "/admin/usage?group_by=all&from=1h")["total"]
            if total and total["requests"] >= self.sent:
                assert total["requests"] == self.sent, total
                return
            assert time.monotonic() < deadline, (total, self.sent)
            time.sleep(0.05)

    def openai(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0)


def _traffic(dash: Dash) -> None:
    """Several models and keys, a stream, an error, embeddings, an Anthropic call, a cache
    hit: every row kind the pages show."""
    app, batch = dash.openai(dash.keys["search-app"]), dash.openai(dash.keys["batch-jobs"])
    for i in range(5):
        app.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": f"question {i}"}]
        )
    app.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "question 0"}]
    )
    for i in range(3):
        batch.chat.completions.create(
            model="claude-test", messages=[{"role": "user", "content": f"job {i}"}]
        )
    for _ in app.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "a stream"}], stream=True
    ):
        pass
    with pytest.raises(openai.InternalServerError):
        batch.chat.completions.create(
            model="claude-test",
            messages=[{"role": "user", "content": "fail"}],
            extra_headers={"x-mock-status": "500", "x-request-id": dash.failed_request_id},
        )
    batch.embeddings.create(model="embed-test", input="hello")
    anthropic.Anthropic(
        base_url=dash.url, api_key=dash.keys["search-app"], max_retries=0
    ).messages.create(
        model="claude-test", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    dash.sent += 5 + 1 + 3 + 1 + 1 + 1 + 1


@pytest.fixture(scope="module")
def dash(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    tmp = tmp_path_factory.mktemp("ui")
    config = {
        "providers": {
            "primary": mock_provider(mock),
            "backup": mock_provider(mock, api_keys=["sk-test-upstream-key-0002"]),
        },
        "models": {
            "gpt-test": {
                "cache": True,
                "deployments": [
                    {"provider": "primary", "model": "mock-gpt", "weight": 2},
                    {"provider": "backup", "model": "mock-gpt-b", "weight": 1},
                ],
            },
            "claude-test": {
                "deployments": [
                    {"provider": "primary", "model": "mock-claude"},
                    {"provider": "backup", "model": "mock-claude", "priority": 1},
                ]
            },
            "embed-test": {"deployments": [{"provider": "backup", "model": "mock-embed"}]},
        },
        "routing": {"max_attempts": 1},
        "pricing": {
            "models": {
                "gpt-test": {"input": 2.5, "output": 10},
                "claude-test": {"input": 3, "output": 15},
            }
        },
        "storage": {"flush_interval": 0.05},
        "capture": {"enabled": True, "dir": "captures"},
        "health": {"keeper": True, "interval": 900},
        "outbound": {"allow": ["127.0.0.1"]},  # providers added in the UI reach the mock
    }
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": SECRET}  # seals provider keys
    proc = start_gateway(config, tmp, "--host", "127.0.0.1", env=env)
    d = Dash(proc)
    try:
        d.admin("POST", "/admin/teams", json={"name": "search", "budget": 5})
        for name, body in (
            ("search-app", {"team": "search", "budget": 2, "rpm": 600}),
            ("batch-jobs", {}),
            ("ops-viewer", {"scopes": ["viewer"]}),
        ):
            made = d.admin("POST", "/admin/keys", json={"name": name, **body})
            d.keys[name], d.key_ids[name] = made["key"], made["id"]
        _traffic(d)
        d.wait_for_rows()
        yield d
    finally:
        proc.stop()


class Tab:
    """A browser page in its own context (cookies, storage), with the errors it logged.
    Failed loads with the statuses in ``allowed`` are expected (the sign-in page asks who is
    signed in and gets 401; denials a test provokes)."""

    def __init__(self, browser: Browser, base: str, **context: Any) -> None:
        self.base = base
        options = {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light", **context}
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.allowed: tuple[int, ...] = (401,)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def unexpected(self) -> list[str]:
        ok = tuple(f"status of {s} " for s in self.allowed)
        return [
            e
            for e in self.errors
            if not (e.startswith("Failed to load resource") and any(o in e for o in ok))
        ]

    def sign_in(self, key: str) -> Page:
        self.page.goto(self.base + "/ui/")
        self.page.get_by_test_id("signin-key").fill(key)
        self.page.get_by_test_id("signin-submit").click()
        self.page.get_by_test_id("nav-overview").wait_for()
        return self.page

    def open(self, name: str) -> Page:
        self.page.get_by_test_id(f"nav-{name}").click()
        return self.page

    def close(self) -> None:
        errors = self.unexpected()
        self.context.close()
        assert not errors, errors


@pytest.fixture
def tabs(browser: Browser, dash: Dash) -> Iterator[Any]:
    """Open tabs with ``tabs(**context_options)``; each is checked for errors when closed."""
    opened: list[Tab] = []

    def new(**context: Any) -> Tab:
        tab = Tab(browser, dash.url, **context)
        opened.append(tab)
        return tab

    yield new
    for tab in opened:
        tab.close()


@pytest.fixture
def tab(tabs: Any) -> Tab:
    return tabs()  # type: ignore[no-any-return]

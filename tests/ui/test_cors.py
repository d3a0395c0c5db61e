"""Web pages of origins the operator lists call the gateway from headless Chromium.

Before (2026-12-08) no page could: the browser's preflight (``OPTIONS``) was a 404 and no
answer carried ``Access-Control-Allow-Origin``. The browser is the client here because it is
the one that enforces CORS; the page sends what the official SDKs send from a browser
(``authorization``, ``x-stainless-*``, ``anthropic-dangerous-direct-browser-access``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.ui.conftest import MASTER

pytestmark = pytest.mark.timeout(300)


class _Blank(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>app</title>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    """A web app's own server: its pages' origin is ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gw(mock: Proc, site: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "server": {"cors": {"allow_origins": [f"http://127.0.0.1:{site}/"]}},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("cors"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _page(browser: Browser, origin: str) -> Page:
    page = browser.new_page()
    page.goto(origin + "/")
    return page


_CALL = """async ([url, key, stream]) => {
  try {
    const r = await fetch(url + "/v1/chat/completions", {
      method: "POST",
      headers: {
        "authorization": "Bearer " + key,
        "content-type": "application/json",
        "x-stainless-os": "Linux",
        "x-stainless-lang": "js",
      },
      body: JSON.stringify({model: "m", stream, messages: [{role: "user", content: "hi"}]}),
    });
    return {status: r.status, id: r.headers.get("x-request-id"), text: await r.text()};
  } catch (e) {
    return {blocked: String(e)};
  }
}"""


def test_a_listed_origins_page_calls_the_model_api(browser: Browser, site: int, gw: Proc) -> None:
    page = _page(browser, f"http://127.0.0.1:{site}")
    done = page.evaluate(_CALL, [gw.url.replace("127.0.0.1", "localhost"), MASTER, False])
    assert done.get("status") == 200, done
    assert '"choices"' in done["text"] and done["id"]  # an exposed header, read by the page
    streamed = page.evaluate(_CALL, [gw.url.replace("127.0.0.1", "localhost"), MASTER, True])
    assert streamed.get("status") == 200 and "data: [DONE]" in streamed["text"], streamed
    refused = page.evaluate(_CALL, [gw.url.replace("127.0.0.1", "localhost"), "sk-wrong", False])
    assert refused.get("status") == 401 and "error" in refused["text"], refused  # errors too
    page.close()


def test_another_origins_page_is_blocked(browser: Browser, site: int, gw: Proc) -> None:
    page = _page(browser, f"http://localhost:{site}")  # another origin: another host name
    done = page.evaluate(_CALL, [gw.url, MASTER, False])
    assert "blocked" in done, done
    page.close()


def test_the_preflight_and_what_stays_closed(site: int, gw: Proc) -> None:
    origin = f"http://127.0.0.1:{site}"
    asked = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os, x-evil",
    }
    pre = httpx.options(gw.url + "/v1/messages", headers=asked)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    allowed = pre.headers["access-control-allow-headers"].split(", ")
    assert allowed == ["authorization", "content-type", "x-stainless-os"]
    foreign = httpx.options(
        gw.url + "/v1/messages", headers={**asked, "origin": "https://x.example"}
    )
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    assert foreign.json()["type"] == "error"  # the path's protocol: Anthropic's shape
    # The admin API and the dashboard (a session cookie) are never opened to other origins.
    for path in ("/admin/keys", "/ui/"):
        closed = httpx.options(gw.url + path, headers=asked)
        assert "access-control-allow-origin" not in closed.headers, path
    # Without an Origin (SDKs, curl) nothing changes.
    plain = httpx.post(
        gw.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {MASTER}"},
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers

"""A refused URL's error never repeats the URL's credentials: a caller's push-notification
URL and an agent URL given to the admin API alike. ``https://user:Zx9/rest@host`` is how a
password holding an unescaped ``/`` reads: urllib takes ``Zx9`` for the port, and its own
error quoted it."""

from __future__ import annotations

import pytest

from tests.a2a.conftest import admin
from tests.a2a.test_gateway import rpc, send_params
from tests.support.procs import Proc

pytestmark = pytest.mark.timeout(60)

PIECES = ("Zx9", "SECRETQ7", "tok3n")
URLS = (
    "https://user:Zx9/SECRETQ7@hook.example/cb?token=tok3n",
    "https://hook.example:Zx9SECRETQ7/cb?token=tok3n",
    "https://[Zx9SECRETQ7/cb?token=tok3n",
)


def test_a_refused_push_url_is_never_repeated(a2a_gateway: Proc) -> None:
    first = rpc(
        a2a_gateway,
        "quick",
        {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("ask: p")},
    )
    task_id = first.json()["result"]["task"]["id"]
    for url in URLS:
        params = {"taskId": task_id, "url": url, "token": "t"}
        payload = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "CreateTaskPushNotificationConfig",
            "params": params,
        }
        refused = rpc(a2a_gateway, "quick", payload)
        assert refused.status_code == 403, (url, refused.text)
        assert refused.json()["error"]["code"] == -32043
        assert "invalid-url" in refused.text  # it still says why
        for piece in PIECES:
            assert piece not in refused.text, (url, refused.text)


def test_a_refused_agent_url_is_never_repeated(a2a_gateway: Proc) -> None:
    for url in URLS:
        resp = admin(a2a_gateway, "PUT", "/admin/agents/leaky", json={"url": url})
        assert resp.status_code in (400, 403, 422), (url, resp.text)
        for piece in PIECES:
            assert piece not in resp.text, (url, resp.text)

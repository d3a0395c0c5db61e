"""turnout.api.inert on either server: the gateway's own (the exchange writes the headers) and
any other ASGI server (a wrapper of ``send``)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from tests.unit.server.test_cycle import cycle
from turnout.api.inert import _ENFORCED, _HEADERS, inert


async def test_on_another_server_a_wrapper_puts_ours_first_and_drops_theirs() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    wrapped = inert("/v1/chat/completions", send)
    theirs = [(b"Content-Security-Policy", b"script-src *"), (b"content-type", b"text/html")]
    await wrapped({"type": "http.response.start", "status": 200, "headers": theirs})
    await wrapped({"type": "http.response.body", "body": b"<script>"})
    assert sent[0]["headers"] == [*_HEADERS, (b"content-type", b"text/html")]
    assert sent[1] == {"type": "http.response.body", "body": b"<script>"}


async def test_on_the_gateways_server_the_exchange_writes_them() -> None:
    c, _, _ = cycle()
    assert inert("/mcp", c.send) == c.send
    assert c.enforced is _ENFORCED


async def test_the_dashboard_and_admin_api_keep_their_own() -> None:
    for path in ("/ui", "/ui/app.js", "/admin/keys"):
        c, _, _ = cycle()
        assert inert(path, c.send) == c.send
        assert c.enforced is None

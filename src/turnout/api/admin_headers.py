"""The headers every answer of the admin API carries, for the browser that may be reading it.

The admin API answers the dashboard (a session cookie) as well as scripts, and its answers
hold secrets: a new or rotated key's secret, the CSRF token, prompts in the request log. So
every answer under :data:`turnout.api.admin.PREFIXES`, ``/admin/mcp`` and the raw admin routes
says: keep me in no cache (``Cache-Control: no-store``: not the browser's disk cache, not a
shared proxy's), do not read me as another type than I say (``nosniff``), show me in no frame
of another page (``X-Frame-Options`` and ``frame-ancestors``: the sign-in's pages and
``/docs`` are pages), name me in no ``Referer``. A header the route set itself is left as it
is. Swagger UI's library files (``/docs/assets``) may be cached: they hold no data.

Nothing here is on the model-call path: it wraps only the admin paths' ``send`` (the admin
app's outermost middleware, the MCP admin routes, the raw admin routes).
"""

from __future__ import annotations

from typing import Any

from turnout.types import Message, Receive, Scope, Send

ASSETS = "/docs/assets"
# The JSON answers and the sign-in's own small pages load nothing but the empty icon those
# pages name (``data:,``); Swagger UI's page (/docs) runs an inline script and its library, so
# it gets only the framing rule.
_LOCKED = (
    b"default-src 'none'; img-src data:; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'none'"
)
_FRAMING = b"frame-ancestors 'none'"
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """What an answer at ``path`` carries unless its route set the header itself."""
    if path == "/docs" or path.startswith(ASSETS):
        policy = (b"content-security-policy", _FRAMING)
    else:
        policy = (b"content-security-policy", _LOCKED)
    if path.startswith(ASSETS):
        return (*_COMMON, policy)
    return (*_COMMON, policy, (b"cache-control", b"no-store"))


def hardened(send: Send, path: str) -> Send:
    """``send`` adding :func:`headers_for` ``path`` to the answer's start."""
    extra = headers_for(path)

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in extra if h[0] not in present)
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


class AdminHeaders:
    """ASGI middleware around the admin app (outermost: its own refusals get them too)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = hardened(send, scope["path"])
        await self.app(scope, receive, send)

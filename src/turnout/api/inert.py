"""Every answer of the gateway's origin that is not the dashboard's own: never a web page.

The dashboard (``/ui``) and the admin API share their origin with the model API, MCP and A2A,
whose answers hold bytes another party chose: an upstream's body and content type are relayed
as they came (``text/html``, or no type, which a browser sniffs), an MCP server's or agent's
too. A browser that showed one as a page would run its script on the dashboard's origin, where
``fetch('/admin/...')`` carries the operator's session cookie; and any site can make the
operator's browser ask for one (a form posted as ``text/plain`` is a JSON body, ``?key=``
names a key). So each such answer says ``nosniff`` and carries a Content-Security-Policy whose
``sandbox`` gives a page an opaque origin and no script; the same headers an upstream (or an
MCP server, an agent) sent are dropped, never relayed next to ours: a browser would read their
``x-content-type-options`` first, and CORS and the SDKs ignore all of them.

The dashboard's files set their own policy (:mod:`turnout.dashboard.static`), the admin API
its own (:mod:`turnout.api.admin_headers`); those paths are left to them.
"""

from __future__ import annotations

from turnout.api.admin import PREFIXES as ADMIN
from turnout.dashboard.static import PREFIX as UI
from turnout.server.cycle import Enforced, Exchange
from turnout.types import Message, Send

POLICY = b"default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Set here, whoever else set them (names lower-case, as ASGI servers and the gateway write them).
_OURS = frozenset(
    {
        b"content-security-policy",
        b"content-security-policy-report-only",
        b"x-content-type-options",
        b"x-frame-options",
    }
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", POLICY),
]
_ENFORCED = Enforced(_HEADERS)


# Paths whose answers carry a policy of their own: the admin API's and the dashboard's files.
_OWN_POLICY = (*ADMIN, UI + "/")


def inert(path: str, send: Send) -> Send:
    """``send`` with the answer's start carrying :data:`_HEADERS` and none of an upstream's;
    ``send`` itself for a path of the admin API or the dashboard.

    On the gateway's own server the exchange behind ``send`` writes them into the head it
    builds anyway (``Exchange.enforced``): no wrapper to pass every message through, and the
    head keeps the gateway's usual shape (the length last) that the server reads at once. A
    wrapper of ``send`` stood for ~5% of a call's instructions (docs/measurements.md)."""
    if path.startswith(_OWN_POLICY) or path == UI:
        return send
    exchange = getattr(send, "__self__", None)
    if type(exchange) is Exchange:
        exchange.enforced = _ENFORCED
        return send

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", ()) if h[0].lower() not in _OURS]
            message = {**message, "headers": [*_HEADERS, *headers]}
        await send(message)

    return wrapped

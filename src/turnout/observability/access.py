"""Who may read ``GET /metrics``.

The metrics name every configured model and deployment with its traffic, errors and spend,
each provider key's state (by a fingerprint of the key), and every guardrail rule that fired:
a ``keywords`` rule is the denied word itself, often a confidential name. Before (2026-12-07)
anyone who could reach the port read them, while ``/v1/models`` shows a key only its own
models and ``/admin/health`` (the same deployment and key states) needs an admin. Now
``metrics.access: admin`` (the default) asks what the admin API asks for a read: the master
key, a key with the ``admin`` or ``viewer`` scope or a dashboard session, and while
authentication is off, nobody (the whole gateway is open then). ``metrics.token`` (or
``TURNOUT_METRICS_TOKEN``) adds a bearer token for Prometheus, accepted even when
authentication is off; ``metrics.access: public`` serves anyone, as before.

Cost: only scrapes pass here (one SHA-256 of the presented token); the request path is
untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import orjson

from turnout.api.io import send_bytes
from turnout.auth.guard import authorize
from turnout.auth.service import AdminDenied

if TYPE_CHECKING:
    from turnout.config.observability import MetricsConfig
    from turnout.state import GatewayState
    from turnout.types import Receive, Scope, Send

Route = Callable[["Scope", "Receive", "Send"], Awaitable[None]]
TOKEN_ENV = "TURNOUT_METRICS_TOKEN"
_JSON = (b"content-type", b"application/json")
_CHALLENGE = (b"www-authenticate", b'Bearer realm="metrics"')
_NO_TOKEN = "/metrics needs its bearer token (metrics.token) while authentication is off."


def metrics_token(cfg: MetricsConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The configured scrape token; the environment wins, like the master key's."""
    token = environ.get(TOKEN_ENV) or cfg.token
    if token is not None and len(token) < 16:
        raise ValueError(f"the metrics token must be at least 16 characters ({TOKEN_ENV})")
    return token or None


def _bearer(headers: dict[bytes, bytes]) -> bytes | None:
    value = headers.get(b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else None


def guard_metrics(state: GatewayState, cfg: MetricsConfig, route: Route) -> Route:
    """``route`` (the scrape) behind ``cfg.access``."""
    if cfg.access == "public":
        return route
    token = metrics_token(cfg)
    expected = hashlib.sha256(token.encode()).digest() if token is not None else None

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if expected is not None:
            presented = _bearer(headers)
            if presented is not None and hmac.compare_digest(
                hashlib.sha256(presented).digest(), expected
            ):
                await route(scope, receive, send)
                return
        try:
            auth = state.auth
            if expected is not None and not (auth is not None and auth.active):
                raise AdminDenied(401, _NO_TOKEN)  # an open admin API must not open it
            authorize(state, headers, "GET", raw=scope["headers"])
        except AdminDenied as exc:
            body = orjson.dumps({"detail": exc.message})
            await send_bytes(send, exc.status, [_JSON, _CHALLENGE], body)
            return
        await route(scope, receive, send)

    return guarded

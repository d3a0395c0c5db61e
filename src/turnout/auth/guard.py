"""The master-key check of the admin API (a FastAPI dependency) and of the raw routes that
live beside the pipeline (``GET /v1/models``, ``GET /admin/health``).

The admin API takes the master key, or a key with an admin role, as ``Authorization: Bearer``
or ``x-api-key``; or a dashboard session cookie (:mod:`turnout.dashboard.session`), whose
writes also need its CSRF token. A ``viewer`` (key or session) may only read. The interactive
docs (``/docs``, ``/openapi.json``) stay readable: they hold no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson

from turnout.api.admin_headers import hardened
from turnout.api.io import request_id, send_bytes, send_error
from turnout.auth.records import AdminRole
from turnout.auth.service import AdminDenied
from turnout.auth.step import TWO_KEYS, one_key
from turnout.auth.tokens import presented, repeated
from turnout.dashboard.access import TeamScoped
from turnout.dashboard.teams import team_write_allowed
from turnout.errors import GatewayError
from turnout.protocols.registry import dialect
from turnout.types import Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.state import GatewayState

Route = Callable[[Scope, Receive, Send], Awaitable[None]]
# The scope key under which a guarded client route finds its caller (a Principal), so the
# model list shows only the models the caller's key may use.
PRINCIPAL = "turnout.principal"
_JSON = (b"content-type", b"application/json")


SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def _secret(headers: dict[bytes, bytes]) -> bytes | None:
    return presented(headers, b"")


def authorize(
    state: GatewayState,
    headers: dict[bytes, bytes],
    method: str,
    *,
    manage: bool = False,
    raw: list[tuple[bytes, bytes]] | None = None,
) -> AdminRole:
    """The caller's role on the admin API, or AdminDenied: a presented key first, else the
    dashboard session; a viewer's writes are refused. ``raw`` (the header lines ``headers``
    was made of) must not hold a credential header twice with different values."""
    auth = state.auth
    if auth is None:  # before the lifespan: nothing is served yet
        raise AdminDenied(503, "starting")
    if raw is not None and len(raw) != len(headers) and (where := repeated(raw)) is not None:
        raise AdminDenied(401, TWO_KEYS.format(where))
    secret = _secret(headers)
    if secret is None and state.dashboard is not None:
        role = state.dashboard.admit(headers, method)
        if role is not None:
            return role
    role = auth.check_admin(secret, manage=manage)
    if role == "viewer" and method.upper() not in SAFE_METHODS:
        raise AdminDenied(403, "Read-only: a viewer key can look at everything, change nothing.")
    return role


def admin_dependency(
    state: GatewayState, *, manage: bool = False
) -> Callable[..., Awaitable[None]]:
    # FastAPI only with the admin app, which is built on its first request
    # (docs/measurements.md#memory).
    from fastapi import HTTPException, Request

    async def check(request: Request) -> None:
        raw = [(k.lower(), v) for k, v in request.headers.raw]
        try:
            authorize(state, dict(raw), request.method, manage=manage, raw=raw)
        except TeamScoped as exc:  # a team admin's write: only on its own teams' keys
            if not await team_write_allowed(state, exc.teams, request):
                raise HTTPException(exc.status, exc.message) from None
        except AdminDenied as exc:
            raise HTTPException(
                exc.status, exc.message, headers={"www-authenticate": "Bearer"}
            ) from None

    # FastAPI resolves the annotation (a string here) in the module's globals, where the
    # class is not: hand it the class itself.
    check.__annotations__["request"] = Request
    return check


def guard_admin_route(state: GatewayState, route: Route) -> Route:
    """A raw admin route, under the same rule as the admin API (and with its headers)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        send = hardened(send, scope["path"])
        if state.auth is not None:
            try:
                raw = scope["headers"]
                authorize(state, dict(raw), scope["method"], raw=raw)
            except AdminDenied as exc:
                body = orjson.dumps({"detail": exc.message})
                await send_bytes(send, exc.status, [_JSON], body)
                return
        await route(scope, receive, send)

    return guarded


def guard_client_route(state: GatewayState, route: Route) -> Route:
    """A raw client route (the model list): any valid gateway key, while auth is on."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        auth = state.auth
        if auth is not None and auth.active:
            headers = dict(scope["headers"])
            try:
                one_key(scope["headers"], headers)
                scope[PRINCIPAL] = await auth.identify(headers, scope.get("query_string", b""))
            except GatewayError as exc:
                await send_error(send, exc, dialect(scope["path"]).name, request_id(headers))
                return
        await route(scope, receive, send)

    return guarded

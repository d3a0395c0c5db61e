"""``/admin/oidc``: operators sign in with the company's identity provider (``auth.oidc``).

``GET /admin/oidc`` says whether single sign-on is on (the dashboard shows its button then);
``GET /admin/oidc/login`` sends the browser to the provider; ``GET /admin/oidc/callback``
finishes the sign-in and sets the same session cookie a key sign-in sets (its role from the
ID token's claims); ``GET /admin/oidc/logout`` ends the session and the provider's, when the
dashboard's own page asks (a link on another site does nothing).
How the protocol is done: :mod:`turnout.dashboard.oidc`.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from turnout.dashboard.access import OIDC_SUBJECT, DashboardAccess
from turnout.dashboard.oidc import (
    OIDC,
    PENDING_COOKIE,
    PENDING_LIFETIME,
    PENDING_PATH,
    Pending,
    SignInError,
)
from turnout.dashboard.session import Sessions, over_tls
from turnout.observability.logging import get_logger
from turnout.state import GatewayState

log = get_logger("turnout.dashboard")
# A navigation the browser says came from this origin, or from no page (typed, a bookmark).
_OWN_PAGES = frozenset((b"same-origin", b"none"))
# The sign-in's own pages name no icon: a browser would ask for /favicon.ico (a 404).
_NO_ICON = '<link rel="icon" href="data:,">'


def _setup(state: GatewayState) -> tuple[DashboardAccess, OIDC]:
    access = state.dashboard
    if access is None or access.oidc is None:
        raise HTTPException(404, "single sign-on is not configured (auth.oidc)")
    return access, access.oidc


def _origin(request: Request) -> str:
    headers = {k.lower(): v for k, v in request.headers.raw}
    scheme = "https" if over_tls(request.url.scheme, headers) else "http"
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    return f"{scheme}://{host or request.headers.get('host', '127.0.0.1')}"


def _secure(request: Request, oidc: OIDC) -> bool:
    """Whether the cookies get ``Secure``: the browser is on https, as the request says, or
    as the registered ``redirect_url`` says (a TLS proxy may send no X-Forwarded-Proto; the
    provider sends the browser back to that URL, so it is the one the browser uses)."""
    registered = (oidc.cfg.redirect_url or "").lower().startswith("https:")
    return registered or _origin(request).startswith("https:")


def _pending_cookie(value: str, *, secure: bool, max_age: int = PENDING_LIFETIME) -> str:
    flags = f"Path={PENDING_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return f"{PENDING_COOKIE}={value}; {flags}{'; Secure' if secure else ''}"


def _cookie(request: Request, name: str) -> str | None:
    return request.cookies.get(name) or None


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/oidc", tags=["dashboard"])

    @api.get("", summary="Whether operators can sign in with single sign-on")
    async def info() -> dict[str, Any]:
        access = state.dashboard
        on = access is not None and access.oidc is not None
        return {"enabled": on, "login": "/admin/oidc/login" if on else None}

    @api.get("/login", summary="Start a single sign-on")
    async def login(request: Request, return_to: str | None = None) -> Response:
        access, oidc = _setup(state)
        redirect_uri = oidc.cfg.redirect_url or f"{_origin(request)}/admin/oidc/callback"
        try:
            url, pending = await oidc.begin(redirect_uri, return_to)
        except SignInError as exc:
            raise HTTPException(exc.status, exc.message) from None
        secure = _secure(request, oidc)
        response = RedirectResponse(url, status_code=302)
        token = access.sessions.wrap(pending.dump())
        response.headers["set-cookie"] = _pending_cookie(token, secure=secure)
        response.headers["cache-control"] = "no-store"
        return response

    @api.get("/callback", summary="Finish a single sign-on", response_class=HTMLResponse)
    async def callback(
        request: Request,
        code: str | None = None,
        error: str | None = None,
    ) -> Response:
        access, oidc = _setup(state)
        secure = _secure(request, oidc)
        raw = _cookie(request, PENDING_COOKIE)
        pending = Pending.load(access.sessions.unwrap(raw) if raw else None, oidc.clock())
        given_state = request.query_params.get("state")
        try:
            if error:
                raise SignInError(401, f"the identity provider refused the sign-in ({error[:80]})")
            if pending is None:
                raise SignInError(400, "no sign-in in progress here (or it ran out): start again")
            if not code or not given_state:
                raise SignInError(400, "the callback lacks its code or state")
            operator = await oidc.finish(pending, code, given_state)
        except SignInError as exc:
            log.warning("oidc sign-in refused", status=exc.status, reason=exc.message)
            page = (
                f"<!doctype html>{_NO_ICON}<title>Sign-in failed</title>"
                f"<p>{html.escape(exc.message)}</p>"
            )
            failed = HTMLResponse(page, status_code=exc.status)
            failed.headers["set-cookie"] = _pending_cookie("", secure=secure, max_age=0)
            return failed
        token, _ = access.sessions.issue(
            OIDC_SUBJECT + operator.subject,
            "admin" if operator.role == "admin" else "viewer",
            teams=operator.teams,
            lifetime=oidc.cfg.session_lifetime,
        )
        log.info(
            "oidc sign-in",
            subject=operator.subject,
            role=operator.role,
            teams=list(operator.teams),
        )
        # A page, not a redirect: the navigation to the dashboard is then same-site, so the
        # SameSite=Strict session cookie goes with it.
        target = html.escape(pending.return_to, quote=True)
        page = (
            f'<!doctype html>{_NO_ICON}<meta http-equiv="refresh" content="0;url={target}">'
            f'<title>Signed in</title><p>Signed in. <a href="{target}">Continue</a></p>'
        )
        response = HTMLResponse(page)
        response.headers.append("set-cookie", access.sessions.set_cookie(token, secure=secure))
        response.headers.append("set-cookie", _pending_cookie("", secure=secure, max_age=0))
        response.headers["cache-control"] = "no-store"
        return response

    @api.get("/logout", summary="Sign out here and at the identity provider")
    async def logout(request: Request) -> Response:
        access, oidc = _setup(state)
        headers = {k.lower(): v for k, v in request.headers.raw}
        session = access.session_of(headers)
        if session is None or headers.get(b"sec-fetch-site", b"none") not in _OWN_PAGES:
            # A link on another site (the SameSite=Strict cookie did not come with it, or
            # the browser says so), or nobody signed in: nothing of the operator's to end,
            # here or at the provider.
            return RedirectResponse("/ui/", status_code=302)
        await access.sign_out(session)
        back = f"{_origin(request)}/ui/"
        target = await oidc.logout_url(back) or "/ui/"
        response = RedirectResponse(target, status_code=302)
        secure = _secure(request, oidc)
        response.headers["set-cookie"] = Sessions.clear_cookie(secure=secure)
        return response

    return api

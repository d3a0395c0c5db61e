"""``/admin/session``: dashboard sign-in (a key exchanged for a session cookie) and sign-out.

The only admin routes open without credentials: ``POST`` checks a key and sets the cookie,
``GET`` says who the current session or key is (401 when nobody), ``DELETE`` signs out.
What a session may do, and the cookie's and CSRF token's rules: :mod:`turnout.dashboard`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from turnout.auth.guard import authorize
from turnout.auth.service import AdminDenied
from turnout.dashboard.access import DashboardAccess
from turnout.dashboard.session import Session, Sessions, over_tls, same_origin
from turnout.state import GatewayState


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=4096, repr=False, description="master or admin key")


class Identity(BaseModel):
    authentication: bool = Field(description="false: the gateway is open (no keys, no master)")
    role: Literal["admin", "viewer"]
    subject: str | None = Field(description="'master', a key id, or null without a session")
    csrf_token: str | None = Field(description="send as x-csrf-token with every write")
    expires_at: int | None = Field(description="epoch seconds")
    shared: bool = Field(
        True, description="false: sessions are valid only on this process (no shared secret)"
    )
    teams: list[str] = Field(
        default_factory=list, description="a team admin's teams (single sign-on), else empty"
    )


def _access(state: GatewayState) -> DashboardAccess:
    if state.dashboard is None or state.auth is None:
        raise HTTPException(503, "starting")
    return state.dashboard


def _identity(access: DashboardAccess, session: Session | None, role: str) -> dict[str, Any]:
    return {
        "authentication": access.auth.active,
        "role": role,
        "subject": session.subject if session else None,
        "csrf_token": access.sessions.csrf(session) if session else None,
        "expires_at": session.expires if session else None,
        "shared": access.sessions.shared,
        "teams": list(session.teams) if session else [],
    }


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/session", tags=["dashboard"])

    @api.post("", response_model=Identity, summary="Sign in to the dashboard")
    async def sign_in(body: SignIn, request: Request) -> JSONResponse:
        """Exchange the master key, or a key with an admin role, for a session cookie
        (HttpOnly, SameSite=Strict, Secure over TLS). The key is not kept anywhere."""
        access = _access(state)
        headers = {k.lower(): v for k, v in request.headers.raw}
        if not same_origin(headers):
            raise HTTPException(403, "Cross-origin sign-in is refused.")
        client = request.client.host if request.client else "-"
        try:
            token, session = access.sign_in(body.key, client)
        except AdminDenied as exc:
            raise HTTPException(exc.status, exc.message) from None
        secure = over_tls(request.url.scheme, headers)
        response = JSONResponse(_identity(access, session, session.role))
        response.headers["set-cookie"] = access.sessions.set_cookie(token, secure=secure)
        response.headers["cache-control"] = "no-store"
        return response

    @api.get("", response_model=Identity, summary="The current session")
    async def current(request: Request) -> JSONResponse:
        """Who is signed in (or which key is presented), with the CSRF token for writes;
        401 when nobody is."""
        access = _access(state)
        headers = {k.lower(): v for k, v in request.headers.raw}
        try:
            role = authorize(state, headers, "GET")
        except AdminDenied as exc:
            raise HTTPException(exc.status, exc.message) from None
        session = access.session_of(headers) if b"authorization" not in headers else None
        response = JSONResponse(_identity(access, session, role))
        response.headers["cache-control"] = "no-store"
        return response

    @api.delete("", summary="Sign out")
    async def sign_out(request: Request) -> JSONResponse:
        """End the session and clear its cookie (needs the CSRF token like any write)."""
        access = _access(state)
        headers = {k.lower(): v for k, v in request.headers.raw}
        session = access.session_of(headers)
        if session is not None:
            if not access.sessions.csrf_ok(session, headers.get(b"x-csrf-token")):
                raise HTTPException(403, "Missing or invalid CSRF token (x-csrf-token).")
            await access.sign_out(session)
        response = JSONResponse({"signed_out": session is not None})
        secure = over_tls(request.url.scheme, headers)
        response.headers["set-cookie"] = Sessions.clear_cookie(secure=secure)
        return response

    return api

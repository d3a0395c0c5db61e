"""The admin API: a FastAPI app mounted beside the raw hot path, for everything that is not a
model call (configuration, usage, keys, cache, health). FastAPI's validation and OpenAPI docs
are worth their cost here and only here.

A new admin area is one module exposing ``router(state) -> APIRouter`` and one entry in
:data:`ROUTERS`. Every route needs the master key, a key with an admin role or a dashboard
session (:mod:`turnout.auth.guard`), except the sign-in routes in :data:`PUBLIC`; validation
errors leave out the submitted values, which may be secrets.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from turnout.auth.guard import admin_dependency
from turnout.state import GatewayState

# Paths the gateway hands to this app instead of answering 404 itself.
PREFIXES = ("/admin", "/docs", "/openapi.json", "/redoc")

ROUTERS: list[str] = [
    "turnout.api.admin.config",
    "turnout.api.admin.cache",
    "turnout.api.admin.usage",
    "turnout.api.admin.logs",
    "turnout.api.admin.stats",
    "turnout.api.admin.captures",
    "turnout.api.admin.keys",
    "turnout.api.admin.teams",
    "turnout.api.admin.credentials",
    "turnout.api.admin.routers",
]
# Routers that check credentials themselves (dashboard sign-in).
PUBLIC: list[str] = ["turnout.api.admin.session"]


def build_admin(state: GatewayState) -> FastAPI:
    app = FastAPI(
        title="Turnout admin API",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    guarded = [Depends(admin_dependency(state))]
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router(state), dependencies=guarded)
    for name in PUBLIC:
        app.include_router(importlib.import_module(name).router(state))
    return app


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)

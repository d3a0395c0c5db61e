"""The admin API: a FastAPI app mounted beside the raw hot path, for everything that is not a
model call (configuration, usage, keys, cache, health). FastAPI's validation and OpenAPI docs
are worth their cost here and only here.

A new admin area is one module exposing ``router(state) -> APIRouter`` and one entry in
:data:`ROUTERS`.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from switchyard.state import GatewayState

# Paths the gateway hands to this app instead of answering 404 itself.
PREFIXES = ("/admin", "/docs", "/openapi.json", "/redoc")

ROUTERS: list[str] = [
    "switchyard.api.admin.config",
    "switchyard.api.admin.cache",
    "switchyard.api.admin.usage",
    "switchyard.api.admin.logs",
]


def build_admin(state: GatewayState) -> FastAPI:
    app = FastAPI(
        title="Switchyard admin API",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router(state))
    return app

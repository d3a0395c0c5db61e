"""The admin API: a FastAPI app mounted beside the raw hot path, for everything that is not a
model call (configuration, usage, keys, cache, health). FastAPI's validation and OpenAPI docs
are worth their cost here and only here.

A new admin area is one module exposing ``router(state) -> APIRouter`` and one entry in
:data:`ROUTERS`. Every route needs the master key, a key with an admin role or a dashboard
session (:mod:`turnout.auth.guard`), except the sign-in routes in :data:`PUBLIC`; validation
errors leave out the submitted values, which may be secrets.

The gateway builds this app on the first request for one of :data:`PREFIXES`, so a gateway
whose admin API is never called never imports FastAPI (~10 MB of resident memory,
docs/measurements.md#memory): nothing here imports it at module level.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.api.admin.body import BoundedBody
from turnout.api.admin_headers import AdminHeaders
from turnout.auth.guard import admin_dependency
from turnout.state import GatewayState

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse

# Paths the gateway hands to this app instead of answering 404 itself.
PREFIXES = ("/admin", "/docs", "/openapi.json", "/redoc", "/cache")
# Swagger UI's files, served from the installed swagger-ui-py package: the docs page must
# work on a machine with no internet access (FastAPI's default loads them from a CDN).
ASSETS = "/docs/assets"

ROUTERS: list[str] = [
    "turnout.api.admin.config",
    "turnout.api.admin.managed",
    "turnout.api.admin.cache",
    "turnout.api.admin.usage",
    "turnout.api.admin.logs",
    "turnout.api.admin.stats",
    "turnout.api.admin.captures",
    "turnout.api.admin.keys",
    "turnout.api.admin.teams",
    "turnout.api.admin.credentials",
    "turnout.api.admin.accounts",
    "turnout.api.admin.routers",
    "turnout.a2a.admin",  # the A2A agent registry (docs/a2a.md)
]
# Routers that check credentials themselves (dashboard sign-in).
PUBLIC: list[str] = ["turnout.api.admin.session", "turnout.api.admin.oidc"]


def build_admin(state: GatewayState) -> FastAPI:
    from fastapi import Depends, FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.staticfiles import StaticFiles

    app = FastAPI(
        title="Turnout admin API",
        docs_url=None,
        openapi_url="/openapi.json",
        redoc_url=None,
        # No trailing-slash redirects: Starlette built their Location from the client's Host
        # (``/admin/keys/`` with ``Host: evil.example`` answered 307 to evil.example, before
        # any key check). One spelling per route, as on the model routes: the other is a 404.
        redirect_slashes=False,
    )
    app.mount(ASSETS, StaticFiles(directory=_swagger_ui_assets()), name="swagger-ui")
    # A plain route like FastAPI's own docs route: the page holds no data (the schema and
    # every call it makes still need the master key).
    app.add_route("/docs", _docs_page, include_in_schema=False)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # A body is bounded and checked before FastAPI reads it (api/admin/body.py).
    app.add_middleware(BoundedBody, state=state)
    # Outermost: every answer, the body check's refusals too, is kept out of caches and
    # frames (api/admin_headers.py).
    app.add_middleware(AdminHeaders)
    guarded = [Depends(admin_dependency(state))]
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router(state), dependencies=guarded)
    for name in PUBLIC:
        app.include_router(importlib.import_module(name).router(state))
    app.openapi = _with_credentials(app)  # type: ignore[method-assign]
    return app


def _with_credentials(app: FastAPI) -> Any:
    """The schema, saying how the admin routes take their credential: the guard reads it
    itself (any of three ways), so FastAPI cannot tell, and without it /docs had no
    Authorize button and every "Try it out" was a 401."""
    from fastapi import FastAPI

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = FastAPI.openapi(app)  # kept on the app: built once
            schema.setdefault("components", {})["securitySchemes"] = {
                "adminKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The master key, or a gateway key with the admin or "
                    "viewer role (docs/keys-and-limits.md).",
                }
            }
            schema["security"] = [{"adminKey": []}]
        return schema

    return openapi


def _swagger_ui_assets() -> str:
    """Swagger UI 5's files, served by the gateway itself (no CDN: an operator's browser may
    reach the gateway and nothing else). Swagger UI 4 cannot read the OpenAPI 3.1 document
    FastAPI writes ("Unable to render this definition"), so /docs showed no route at all.
    Found by location, not imported: the package's own code (a web-framework adapter,
    jinja2 and YAML) is not needed to serve them."""
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: reinstall Turnout")
    return str(Path(spec.submodule_search_locations[0]) / "static")


async def _docs_page(request: Request) -> HTMLResponse:
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Turnout admin API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)

"""``GET /admin/config``: the routing table the gateway is serving, keys masked, and which
config version it runs; ``POST /admin/config/reload``: apply the config file (and what the
database holds) now (docs/configuration.md#live-configuration)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from turnout.live import workers
from turnout.outbound.display import display_url
from turnout.state import GatewayState

RELOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "applied (`result`: reloaded) or nothing changed (unchanged)"},
    422: {"description": "refused: `problems` lists every one; the previous config serves on"},
}


def mask(secret: str) -> str:
    """Enough of a key to tell two apart, never enough to use one."""
    if len(secret) <= 8:
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["config"])

    @api.post("/config/reload", responses=RELOAD_RESPONSES)
    async def reload() -> JSONResponse:
        """Load, validate and compile the config again and swap it in; with ``--workers``,
        every worker does (the answer lists their versions)."""
        reloader = state.reloader
        if reloader is None:
            return JSONResponse({"detail": "the gateway is still starting"}, status_code=503)
        result = await reloader.reload("admin API")
        body = result.body()
        if result.problems:  # also where FastAPI clients and the dashboard look
            body["detail"] = {"message": "the config was refused", "problems": result.problems}
        directory = workers.status_dir()
        if directory is not None and result.result != "failed" and workers.notify_supervisor():
            body["workers"] = await asyncio.to_thread(
                workers.wait_for_version, directory, result.version, 5.0
            )
        return JSONResponse(body, status_code=422 if result.result == "failed" else 200)

    @api.get("/config")
    async def config() -> dict[str, Any]:
        runtime = state.runtime
        reloader = state.reloader
        live: dict[str, Any] = reloader.status() if reloader is not None else {}
        directory = workers.status_dir()
        if directory is not None:
            live["workers"] = await asyncio.to_thread(workers.read_statuses, directory)
        if state.managed is not None:
            live["sources"] = state.managed.sources.public()
        return {
            "live": live,
            "providers": {
                name: {
                    "type": spec.type,
                    "base_url": display_url(spec.base_url),
                    "api_keys": [mask(k) for k in spec.api_keys if k],
                }
                for name, spec in runtime.providers.items()
            },
            "models": {
                route.name: {
                    "strategy": route.strategy,
                    "deployments": [
                        {
                            "provider": d.provider,
                            "model": d.model,
                            "priority": d.priority,
                            "weight": d.weight,
                        }
                        for d in route.deployments
                    ],
                }
                for route in (*runtime.models.values(), *runtime.patterns)
            },
        }

    return api

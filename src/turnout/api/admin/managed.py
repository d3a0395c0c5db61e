"""``/admin/providers`` and ``/admin/models``: providers, models and deployments stored in the
database and applied live on every replica (docs/configuration.md#providers-and-models-
through-the-admin-api).

A body is the section as the config file would hold it (``providers.<name>``,
``models.<name>``, one entry of ``deployments``). A write is validated as the whole config it
would make, every problem listed (422) and nothing stored when there is one; a provider's
``base_url`` and ``proxy`` must pass the outbound policy; ``api_keys`` are sealed with
``TURNOUT_SECRET_KEY`` and never returned (an update without ``api_keys`` keeps the stored
ones). Names the config file defines belong to the file (409). Writes need the master key or
an admin-scoped key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from turnout.auth.guard import admin_dependency
from turnout.live.service import ManagedService, Outcome, refused
from turnout.live.store import Kind
from turnout.state import GatewayState

PROVIDER_EXAMPLE = {
    "type": "openai-compatible",
    "base_url": "https://llm.example.com/v1",
    "api_keys": ["sk-..."],
}
MODEL_EXAMPLE = {
    "strategy": "priority",
    "deployments": [{"provider": "vllm", "model": "llama-3.1-70b", "priority": 0}],
}
DEPLOYMENT_EXAMPLE = {"provider": "vllm", "model": "llama-3.1-8b", "priority": 1}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "replaced (or deleted) and applied; the config version serving"},
    201: {"description": "created and applied"},
    400: {"description": "keys given but no TURNOUT_SECRET_KEY to seal them"},
    403: {"description": "needs the master key or an admin-scoped key"},
    404: {"description": "no such stored entry"},
    409: {
        "description": "the name is defined in the config file, which wins; or the config "
        "changed while it was written and cannot take it (`detail.problems`; nothing stored)"
    },
    422: {"description": "`problems`: every problem of the config it would make; nothing stored"},
}


def _reply(outcome: Outcome) -> JSONResponse:
    return JSONResponse(outcome.body, status_code=outcome.status)


def _unavailable() -> JSONResponse:
    return JSONResponse({"detail": "the gateway is still starting"}, status_code=503)


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["live configuration"])
    write = [Depends(admin_dependency(state, manage=True))]

    def service() -> ManagedService | None:
        return state.managed

    async def listing(kind: Kind) -> JSONResponse:
        managed = service()
        if managed is None:
            return _unavailable()
        try:
            items = await managed.listing(kind)
        except Exception as exc:
            return JSONResponse(
                {"detail": f"the database is unavailable: {type(exc).__name__}"}, status_code=503
            )
        return JSONResponse({"providers" if kind == "provider" else "models": items})

    async def one(kind: Kind, name: str) -> JSONResponse:
        managed = service()
        if managed is None:
            return _unavailable()
        for item in await managed.listing(kind):
            if item["name"] == name:
                return JSONResponse(item)
        return JSONResponse({"detail": f"no {kind} {name!r} stored"}, status_code=404)

    async def put(kind: Kind, name: str, body: Any) -> JSONResponse:
        managed = service()
        return _unavailable() if managed is None else _reply(await managed.put(kind, name, body))

    async def create(kind: Kind, body: Any) -> JSONResponse:
        managed = service()
        if managed is None:
            return _unavailable()
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return _reply(refused([f"name: required (the {kind}'s name, a string)"]))
        rest = {k: v for k, v in body.items() if k != "name"}
        return _reply(await managed.put(kind, name, rest, create=True))

    async def delete(kind: Kind, name: str) -> JSONResponse:
        managed = service()
        return _unavailable() if managed is None else _reply(await managed.delete(kind, name))

    @api.get("/providers")
    async def list_providers() -> JSONResponse:
        """Providers stored through the admin API (keys masked; ``serving`` is false for one
        the config file shadows)."""
        return await listing("provider")

    @api.post("/providers", dependencies=write, responses=WRITE_RESPONSES, status_code=201)
    async def create_provider(
        body: Any = Body(..., examples=[{"name": "vllm", **PROVIDER_EXAMPLE}]),
    ) -> JSONResponse:
        """Create a provider: ``name`` and the fields of ``providers.<name>`` (409 if it
        exists)."""
        return await create("provider", body)

    @api.get("/providers/{name}")
    async def get_provider(name: str) -> JSONResponse:
        return await one("provider", name)

    @api.put("/providers/{name}", dependencies=write, responses=WRITE_RESPONSES)
    async def put_provider(
        name: str, body: Any = Body(..., examples=[PROVIDER_EXAMPLE])
    ) -> JSONResponse:
        """Create or replace a provider (``providers.<name>`` of the config file)."""
        return await put("provider", name, body)

    @api.delete("/providers/{name}", dependencies=write, responses=WRITE_RESPONSES)
    async def delete_provider(name: str) -> JSONResponse:
        """Delete a stored provider (refused while a model still uses it)."""
        return await delete("provider", name)

    @api.get("/models")
    async def list_models() -> JSONResponse:
        """Models stored through the admin API."""
        return await listing("model")

    @api.post("/models", dependencies=write, responses=WRITE_RESPONSES, status_code=201)
    async def create_model(
        body: Any = Body(..., examples=[{"name": "llama", **MODEL_EXAMPLE}]),
    ) -> JSONResponse:
        """Create a model: ``name`` and the fields of ``models.<name>`` (409 if it exists)."""
        return await create("model", body)

    @api.get("/models/{name}")
    async def get_model(name: str) -> JSONResponse:
        return await one("model", name)

    @api.put("/models/{name}", dependencies=write, responses=WRITE_RESPONSES)
    async def put_model(name: str, body: Any = Body(..., examples=[MODEL_EXAMPLE])) -> JSONResponse:
        """Create or replace a model and its deployments (``models.<name>``)."""
        return await put("model", name, body)

    @api.delete("/models/{name}", dependencies=write, responses=WRITE_RESPONSES)
    async def delete_model(name: str) -> JSONResponse:
        return await delete("model", name)

    @api.post("/models/{name}/deployments", dependencies=write, responses=WRITE_RESPONSES)
    async def add_deployment(
        name: str, body: Any = Body(..., examples=[DEPLOYMENT_EXAMPLE])
    ) -> JSONResponse:
        """Add one deployment to a stored model (created with it if it does not exist)."""
        managed = service()
        if managed is None:
            return _unavailable()
        entry = await managed.entry("model", name)
        model = dict(entry.body) if entry is not None else {}
        deployments = model.get("deployments")
        model["deployments"] = [*(deployments if isinstance(deployments, list) else []), body]
        return _reply(await managed.put("model", name, model))

    @api.delete("/models/{name}/deployments/{index}", dependencies=write, responses=WRITE_RESPONSES)
    async def delete_deployment(name: str, index: int) -> JSONResponse:
        """Remove the deployment at ``index`` (0-based, in the stored order)."""
        managed = service()
        if managed is None:
            return _unavailable()
        entry = await managed.entry("model", name)
        deployments = entry.body.get("deployments") if entry is not None else None
        if entry is None or not isinstance(deployments, list) or not 0 <= index < len(deployments):
            return JSONResponse({"detail": f"no deployment {index} of {name!r}"}, status_code=404)
        model = {**entry.body, "deployments": [d for i, d in enumerate(deployments) if i != index]}
        return _reply(await managed.put("model", name, model))

    return api

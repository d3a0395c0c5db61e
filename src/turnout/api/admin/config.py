"""``GET /admin/config``: the routing table the gateway is serving, keys masked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from turnout.state import GatewayState


def mask(secret: str) -> str:
    """Enough of a key to tell two apart, never enough to use one."""
    if len(secret) <= 8:
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["config"])

    @api.get("/config")
    async def config() -> dict[str, Any]:
        runtime = state.runtime
        return {
            "providers": {
                name: {
                    "type": spec.type,
                    "base_url": spec.base_url,
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

"""``GET /admin/cache/stats`` and ``DELETE /admin/cache``: look at and purge the answer cache.

``DELETE /admin/cache`` empties the whole cache; ``?model=NAME`` only that public model's
answers; ``?key=DIGEST`` one answer (the digest every cached response carries in
``x-turnout-cache-key``). With the Redis backend a purge reaches every replica; stats count
this process's hits and misses, and the backend's entries and bytes.

``GET /cache`` and ``DELETE /cache`` are the same two routes under llmproxy's path, so its
users' scripts keep working; they take the same admin credentials.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from turnout.cache.store import StoreUnavailable
from turnout.state import GatewayState

_DIGEST = re.compile(r"[0-9a-f]{32}")


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(tags=["cache"])

    @api.get("/admin/cache/stats")
    @api.get("/cache", summary="Stats (llmproxy's path)")
    async def stats() -> dict[str, Any]:
        if state.cache is None:
            return {"enabled": False}
        return await state.cache.stats()

    @api.delete("/admin/cache")
    @api.delete("/cache", summary="Purge (llmproxy's path)")
    async def purge(
        model: str | None = Query(None, description="only this public model's answers"),
        key: str | None = Query(None, description="one answer, by its x-turnout-cache-key"),
    ) -> dict[str, Any]:
        if key is not None and not _DIGEST.fullmatch(key):
            raise HTTPException(400, "key must be the 32 hex digits of x-turnout-cache-key")
        if state.cache is None:
            return {"deleted": 0, "enabled": False}
        try:
            deleted = await state.cache.purge(model=model, digest=key)
        except StoreUnavailable as exc:
            raise HTTPException(503, f"the cache backend is unavailable: {exc}") from None
        return {"deleted": deleted}

    return api

"""``/admin/keys``: create, list, show, change and revoke gateway keys (master key only).

``POST`` answers with the key itself in ``key``: the only time it is ever shown (only its
SHA-256 is stored). A change made here is served by this replica at once and by every other
within ``auth.refresh_interval``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from turnout.auth.guard import admin_dependency
from turnout.auth.manage import Invalid, KeyBody, create_key, revoke_key, rotate_key, update_key
from turnout.auth.records import KeyRecord
from turnout.auth.service import AuthService
from turnout.auth.store import Conflict, Missing
from turnout.state import GatewayState


def service(state: GatewayState) -> AuthService:
    if state.auth is None:
        raise HTTPException(503, "starting")
    return state.auth


async def describe(auth: AuthService, record: KeyRecord) -> dict[str, Any]:
    out = record.public()
    if record.budget is not None:
        try:
            out["spend"] = await auth.budgets.spend(f"k:{record.id}", record.budget.period)
        except Exception as exc:  # the limiter's Redis may be down; the key is still shown
            out["spend"] = {"error": type(exc).__name__}
    return out


def errors(exc: Exception) -> HTTPException:
    if isinstance(exc, Missing):
        return HTTPException(404, f"not found: {exc}")
    if isinstance(exc, Conflict):
        return HTTPException(409, str(exc))
    if isinstance(exc, Invalid | ValueError):
        return HTTPException(400, str(exc))
    return HTTPException(503, f"the key store is unavailable: {type(exc).__name__}")


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(
        prefix="/admin/keys",
        tags=["keys"],
        dependencies=[Depends(admin_dependency(state, manage=True))],
    )

    @api.post("", status_code=201)
    async def create(body: KeyBody) -> dict[str, Any]:
        auth = service(state)
        try:
            secret, record = await create_key(auth.store, body)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(keys=[record])
        return {"key": secret, **record.public()}

    @api.get("")
    async def list_keys(
        team: str | None = Query(None),
        include_revoked: bool = Query(False, description="also revoked keys"),
    ) -> dict[str, Any]:
        auth = service(state)
        try:
            records = await auth.store.list_keys(team=team)
        except Exception as exc:
            raise errors(exc) from None
        shown = [r.public() for r in records if include_revoked or not r.revoked]
        return {"keys": shown}

    @api.get("/{key_id}")
    async def show(key_id: str) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await auth.store.get_key(key_id)
        except Exception as exc:
            raise errors(exc) from None
        if record is None:
            raise HTTPException(404, f"no key {key_id}")
        return await describe(auth, record)

    @api.patch("/{key_id}")
    async def change(key_id: str, body: KeyBody) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await update_key(auth.store, key_id, body)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(keys=[record])
        return record.public()

    async def revoke(key_id: str) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await revoke_key(auth.store, key_id)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(keys=[record])
        return record.public()

    @api.post("/{key_id}/rotate", summary="Give a key a new secret")
    async def rotate(key_id: str) -> dict[str, Any]:
        """The same key (id, limits, budget, usage history) with a new secret, returned here
        and never again; the old secret stops working."""
        auth = service(state)
        try:
            secret, record = await rotate_key(auth.store, key_id)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(keys=[record])
        return {"key": secret, **record.public()}

    api.add_api_route("/{key_id}/revoke", revoke, methods=["POST"], summary="Revoke a key")
    api.add_api_route("/{key_id}", revoke, methods=["DELETE"], summary="Revoke a key")
    return api

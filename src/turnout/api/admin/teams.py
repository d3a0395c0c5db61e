"""``/admin/teams``: teams group keys under shared models, limits and a budget (master key
only). Deleting a team with live keys needs ``?revoke_keys=true``, which revokes them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from turnout.api.admin.keys import errors, service
from turnout.auth.guard import admin_dependency
from turnout.auth.manage import TeamBody, create_team, delete_team, update_team
from turnout.state import GatewayState


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(
        prefix="/admin/teams",
        tags=["teams"],
        dependencies=[Depends(admin_dependency(state, manage=True))],
    )

    @api.post("", status_code=201)
    async def create(body: TeamBody) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await create_team(auth.store, body)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(teams=[record])
        return record.public()

    @api.get("")
    async def list_teams(include_deleted: bool = Query(False)) -> dict[str, Any]:
        auth = service(state)
        try:
            records = await auth.store.list_teams()
        except Exception as exc:
            raise errors(exc) from None
        return {"teams": [t.public() for t in records if include_deleted or t.active]}

    @api.get("/{name}")
    async def show(name: str) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await auth.store.get_team(name)
            keys = await auth.store.list_keys(team=name) if record is not None else []
        except Exception as exc:
            raise errors(exc) from None
        if record is None:
            raise HTTPException(404, f"no team {name}")
        out = record.public()
        out["keys"] = [k.id for k in keys if not k.revoked]
        if record.budget is not None:
            try:
                out["spend"] = await auth.budgets.spend(f"t:{name}", record.budget.period)
            except Exception as exc:
                out["spend"] = {"error": type(exc).__name__}
        return out

    @api.patch("/{name}")
    async def change(name: str, body: TeamBody) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await update_team(auth.store, name, body)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(teams=[record])
        return record.public()

    @api.delete("/{name}")
    async def delete(
        name: str, revoke_keys: bool = Query(False, description="revoke the team's keys too")
    ) -> dict[str, Any]:
        auth = service(state)
        try:
            record = await delete_team(auth.store, name, revoke_keys=revoke_keys)
            keys = await auth.store.list_keys(team=name)
        except Exception as exc:
            raise errors(exc) from None
        auth.directory.put(keys=keys, teams=[record])
        return record.public()

    return api

"""``/admin/credentials``: provider keys stored encrypted (master key only).

``POST {"provider": "openai", "api_key": "sk-..."}`` seals the key with AES-256-GCM under
``TURNOUT_SECRET_KEY`` and stores only the ciphertext and a mask; no endpoint ever returns
the key again. Stored keys join their provider's key pool at once: a change takes the next
live-configuration version, so this gateway reloads now and every replica sharing the database
within seconds (docs/configuration.md#live-configuration).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from turnout.api.admin.keys import service
from turnout.auth import tokens
from turnout.auth.credentials import CredentialRecord, context, mask
from turnout.auth.guard import admin_dependency
from turnout.crypto import ENV, SecretBox, SecretKeyError
from turnout.state import GatewayState


class CredentialBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(description="a provider name of the config")
    api_key: str = Field(min_length=1, repr=False)
    name: str | None = Field(None, max_length=200)


async def _apply(state: GatewayState) -> dict[str, Any]:
    """Reload here and have every replica reload: the pools change now, not at a restart."""
    if state.managed is None:
        return {}
    try:
        result = await state.managed.changed_elsewhere()
    except Exception as exc:  # stored; applied by the next reload or start
        return {"reload": f"not applied yet: {type(exc).__name__}"}
    return {"reload": result.result, "version": result.version}


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(
        prefix="/admin/credentials",
        tags=["credentials"],
        dependencies=[Depends(admin_dependency(state, manage=True))],
    )

    @api.post("", status_code=201)
    async def add(body: CredentialBody) -> dict[str, Any]:
        auth = service(state)
        if body.provider not in state.runtime.providers:
            known = ", ".join(sorted(state.runtime.providers)) or "none"
            raise HTTPException(400, f"unknown provider {body.provider!r} (known: {known})")
        try:
            box = SecretBox.from_env()
        except SecretKeyError as exc:
            raise HTTPException(400, str(exc)) from None
        if box is None:
            raise HTTPException(400, f"set {ENV} to store credentials (they are encrypted)")
        record_id = tokens.new_id("cred")
        record = CredentialRecord(
            id=record_id,
            provider=body.provider,
            mask=mask(body.api_key),
            secret=box.seal(body.api_key, context(record_id, body.provider)),
            name=body.name,
        )
        try:
            await auth.credentials.add(record)
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None
        applied = await _apply(state)
        return {**record.public(), "applies": "now", **applied}

    @api.get("")
    async def list_credentials() -> dict[str, Any]:
        auth = service(state)
        try:
            records = await auth.credentials.list()
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None
        return {"credentials": [r.public() for r in records]}

    @api.delete("/{credential_id}")
    async def delete(credential_id: str) -> dict[str, Any]:
        auth = service(state)
        try:
            deleted = await auth.credentials.delete(credential_id)
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None
        if not deleted:
            raise HTTPException(404, f"no credential {credential_id}")
        return {"deleted": credential_id, **await _apply(state)}

    return api

"""``/admin/accounts``: provider accounts signed in with OAuth (docs/oauth.md).

``GET`` lists them as this gateway uses them (status, why invalid, seconds until the access
token expires, the state of their keys); never a token. ``POST {"provider": "corp"}`` starts
a device-flow sign-in and answers the code to enter and where; the gateway polls the provider
in the background and stores the account when someone approves it, and ``GET
/admin/accounts/logins/{id}`` says how that went. ``DELETE /admin/accounts/{id}`` removes an
account: every gateway stops using it within a second. The browser flow (code + PKCE) is the
CLI's: ``turnout accounts login PROVIDER --browser``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from turnout.auth.guard import admin_dependency
from turnout.oauth.client import OAuthClient, OAuthError
from turnout.oauth.login import store_account
from turnout.oauth.service import OAuthAccounts, origin_of
from turnout.outbound import OutboundPolicy
from turnout.state import GatewayState

MAX_PENDING = 16  # device sign-ins being polled at once, per process
KEEP_DONE = 600.0  # seconds a finished sign-in's outcome can still be read


class StartLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(description="a provider with auth: oauth")
    name: str | None = Field(None, max_length=200)


@dataclass
class Login:
    id: str
    provider: str
    status: str = "pending"  # pending | done | failed
    account: str | None = None
    error: str | None = None
    finished: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "status": self.status,
            "account": self.account,
            "error": self.error,
        }


def _accounts(state: GatewayState) -> OAuthAccounts:
    if state.accounts is None:
        raise HTTPException(404, "no provider has auth: oauth in this config")
    return state.accounts


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(
        prefix="/admin/accounts",
        tags=["accounts"],
        dependencies=[Depends(admin_dependency(state, manage=True))],
    )
    logins: dict[str, Login] = {}

    def prune() -> None:
        now = time.monotonic()
        for key in [k for k, v in logins.items() if v.finished and now - v.finished > KEEP_DONE]:
            del logins[key]

    @api.get("")
    async def list_accounts() -> dict[str, Any]:
        accounts = state.accounts
        if accounts is None:  # no provider has auth: oauth
            return {"enabled": False, "accounts": [], "providers": []}
        providers = [
            {"name": name, "device_flow": p.device_authorization_url is not None}
            for name, p in sorted(accounts.profiles.items())
        ]
        return {"enabled": True, "accounts": accounts.report(), "providers": providers}

    @api.post("", status_code=202, summary="Start a device-flow sign-in")
    async def start(body: StartLogin) -> dict[str, Any]:
        accounts = _accounts(state)
        profile = accounts.profiles.get(body.provider)
        if profile is None:
            known = ", ".join(sorted(accounts.profiles)) or "none"
            raise HTTPException(
                400, f"{body.provider!r} has no auth: oauth (those that do: {known})"
            )
        if not profile.device_authorization_url:
            raise HTTPException(
                400, "this profile has no device_authorization_url: use `turnout accounts login`"
            )
        box = accounts.box
        if box is None:
            raise HTTPException(400, "set TURNOUT_SECRET_KEY: account tokens are stored sealed")
        prune()
        if sum(1 for v in logins.values() if v.status == "pending") >= MAX_PENDING:
            raise HTTPException(429, "too many sign-ins waiting for approval")
        policy = OutboundPolicy.from_config(state.runtime.config.outbound)
        client = OAuthClient(profile, policy, origin=origin_of(state.runtime, body.provider))
        try:
            code = await client.device_code()
        except OAuthError as exc:
            raise HTTPException(502, f"the provider refused: {exc.error}") from None
        login = Login(id=secrets.token_hex(8), provider=body.provider)

        async def finish() -> None:
            try:
                tokens = await client.poll_device(code)
                record = await store_account(accounts.store, box, body.provider, tokens, body.name)
                await accounts.sync()
                login.status, login.account = "done", record.id
            except OAuthError as exc:
                login.status, login.error = "failed", exc.error
            except Exception as exc:
                login.status, login.error = "failed", type(exc).__name__
            finally:
                login.finished = time.monotonic()

        login.task = asyncio.get_running_loop().create_task(finish())
        logins[login.id] = login
        return {
            **login.public(),
            "user_code": code.user_code,
            "verification_uri": code.verification_uri,
            "verification_uri_complete": code.verification_uri_complete,
            "expires_in": code.expires_in,
        }

    @api.get("/logins/{login_id}")
    async def login_status(login_id: str) -> dict[str, Any]:
        found = logins.get(login_id)
        if found is None:
            raise HTTPException(404, f"no sign-in {login_id}")
        return found.public()

    @api.delete("/{account_id}")
    async def remove(account_id: str) -> dict[str, Any]:
        accounts = _accounts(state)
        try:
            deleted = await accounts.store.delete(account_id)
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None
        if not deleted:
            raise HTTPException(404, f"no account {account_id}")
        with contextlib.suppress(Exception):
            await accounts.sync()
        return {"deleted": account_id}

    return api

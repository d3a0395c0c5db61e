"""Creating, changing and revoking keys and teams: the rules the admin API and the CLI share.

Both call these functions with a :class:`KeyStore`, so a key made with ``turnout keys
create -c`` straight in the database and one made through ``POST /admin/keys`` are the same.
Bodies are pydantic models (admin input only; nothing here is on the request path).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from turnout.auth import tokens
from turnout.auth.records import Budget, KeyRecord, Limits, Period, Scope, TeamRecord, utcnow
from turnout.auth.store import Conflict, KeyStore, Missing

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Invalid(ValueError):
    """A request that names something that does not exist or cannot be (HTTP 400/404)."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 30d, 12h, 90m)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


# The largest limit a body may set: records are stored as JSON, whose integers a reader (and
# the store's encoder) take exactly up to 2**53; 10**30 requests a minute was a 503.
MAX_LIMIT = 2**53
MAX_BUDGET = 1e15  # USD: a finite number (1e400 arrives as infinity)


class LimitsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rpm: int | None = Field(None, ge=1, le=MAX_LIMIT, description="requests per minute")
    tpm: int | None = Field(
        None, ge=1, le=MAX_LIMIT, description="tokens per minute (input + output)"
    )
    max_parallel: int | None = Field(None, ge=1, le=MAX_LIMIT, description="requests in flight")

    def limits(self) -> Limits:
        return Limits(self.rpm, self.tpm, self.max_parallel)


class _Common(LimitsBody):
    models: list[str] | None = Field(None, description="allowed public models (globs); [] = all")
    budget: float | None = Field(
        None, ge=0, le=MAX_BUDGET, allow_inf_nan=False, description="USD per budget_period"
    )
    budget_period: Period | None = Field(None, description="day, week or month (default)")
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Stored as JSON with the record: what the encoder refuses (an integer beyond 64
        bits) is the request's fault, not the store's."""
        if value is not None:
            try:
                orjson.dumps(value)
            except orjson.JSONEncodeError as exc:
                raise ValueError(f"metadata cannot be stored as JSON: {exc}") from None
        return value


class KeyBody(_Common):
    """``POST /admin/keys`` and ``PATCH /admin/keys/{id}`` (omitted fields stay unchanged;
    null clears a limit)."""

    name: str | None = Field(None, max_length=200)
    team: str | None = None
    model_limits: dict[str, LimitsBody] | None = Field(
        None, description="per model glob: limits of this key on the models it matches"
    )
    expires_at: datetime | None = None
    expires_in: str | None = Field(None, description="a duration instead of expires_at: 30d")
    scopes: list[Scope] | None = Field(
        None,
        description="['admin']: the key may also use the admin API, as the master key; "
        "['viewer']: it may read the admin API and the dashboard, and change nothing",
    )

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                utcnow() + parse_duration(value)
            except OverflowError:
                raise ValueError(f"{value!r} ends after the year 9999") from None
        return value


class TeamBody(_Common):
    name: str | None = Field(None, description="required to create a team")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _TEAM_NAME.match(value):
            raise ValueError("1-64 letters, digits, '_', '.', '@' or '-'")
        return value


def _limits(body: LimitsBody, current: Limits) -> Limits:
    given = body.model_fields_set
    return Limits(
        body.rpm if "rpm" in given else current.rpm,
        body.tpm if "tpm" in given else current.tpm,
        body.max_parallel if "max_parallel" in given else current.max_parallel,
    )


def _budget(body: _Common, current: Budget | None) -> Budget | None:
    given = body.model_fields_set
    if "budget" in given and body.budget is None:
        return None
    amount = body.budget if body.budget is not None else (current.amount if current else None)
    if amount is None:
        return None
    period = body.budget_period or (current.period if current else "month")
    return Budget(amount, period)


def _expiry(body: KeyBody, current: datetime | None) -> datetime | None:
    if body.expires_in is not None:
        return utcnow() + parse_duration(body.expires_in)
    if "expires_at" in body.model_fields_set:
        at = body.expires_at
        return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
    return current


async def _check_team(store: KeyStore, name: str | None) -> None:
    if name is None:
        return
    team = await store.get_team(name)
    if team is None or not team.active:
        raise Invalid(f"no team named {name!r}")


async def create_key(store: KeyStore, body: KeyBody) -> tuple[str, KeyRecord]:
    """A new key; the secret is returned here and never again."""
    await _check_team(store, body.team)
    secret = tokens.generate()
    record = KeyRecord(
        id=tokens.new_id("key"),
        hash=tokens.hex_digest(secret),
        prefix=tokens.prefix(secret),
        name=body.name,
        team=body.team,
        models=tuple(body.models or ()),
        limits=_limits(body, Limits()),
        model_limits=tuple((g, lim.limits()) for g, lim in (body.model_limits or {}).items()),
        budget=_budget(body, None),
        metadata=body.metadata or {},
        scopes=tuple(dict.fromkeys(body.scopes or ())),
        expires_at=_expiry(body, None),
    )
    return secret, await store.insert_key(record)


async def update_key(store: KeyStore, key_id: str, body: KeyBody) -> KeyRecord:
    current = await store.get_key(key_id)
    if current is None:
        raise Missing(key_id)
    given = body.model_fields_set
    if "team" in given:
        await _check_team(store, body.team)
    model_limits = current.model_limits
    if "model_limits" in given:
        model_limits = tuple((g, lim.limits()) for g, lim in (body.model_limits or {}).items())
    record = replace(
        current,
        name=body.name if "name" in given else current.name,
        team=body.team if "team" in given else current.team,
        models=tuple(body.models or ()) if "models" in given else current.models,
        limits=_limits(body, current.limits),
        model_limits=model_limits,
        budget=_budget(body, current.budget),
        metadata=(body.metadata or {}) if "metadata" in given else current.metadata,
        scopes=tuple(dict.fromkeys(body.scopes or ())) if "scopes" in given else current.scopes,
        expires_at=_expiry(body, current.expires_at),
        updated_at=utcnow(),
    )
    return await store.update_key(record)


async def rotate_key(store: KeyStore, key_id: str) -> tuple[str, KeyRecord]:
    """A new secret for an existing key: same id, limits, budget and history; the old secret
    stops working as soon as replicas see the change (``auth.refresh_interval``)."""
    current = await store.get_key(key_id)
    if current is None:
        raise Missing(key_id)
    if current.revoked:
        raise Conflict(f"key {key_id} is revoked")
    secret = tokens.generate()
    record = replace(
        current,
        hash=tokens.hex_digest(secret),
        prefix=tokens.prefix(secret),
        updated_at=utcnow(),
    )
    return secret, await store.update_key(record)


async def revoke_key(store: KeyStore, key_id: str) -> KeyRecord:
    current = await store.get_key(key_id)
    if current is None:
        raise Missing(key_id)
    if current.revoked:
        return current
    now = utcnow()
    return await store.update_key(replace(current, revoked_at=now, updated_at=now))


async def create_team(store: KeyStore, body: TeamBody) -> TeamRecord:
    if not body.name:
        raise Invalid("a team needs a name")
    existing = await store.get_team(body.name)
    record = TeamRecord(
        name=body.name,
        models=tuple(body.models or ()),
        limits=_limits(body, Limits()),
        budget=_budget(body, None),
        metadata=body.metadata or {},
    )
    if existing is not None:
        if existing.active:
            raise Conflict(f"team {body.name!r} exists")
        # A deleted team's name may be used again: same row, fresh record.
        return await store.update_team(replace(record, created_at=existing.created_at))
    return await store.insert_team(record)


async def update_team(store: KeyStore, name: str, body: TeamBody) -> TeamRecord:
    current = await store.get_team(name)
    if current is None or not current.active:
        raise Missing(name)
    given = body.model_fields_set
    record = replace(
        current,
        models=tuple(body.models or ()) if "models" in given else current.models,
        limits=_limits(body, current.limits),
        budget=_budget(body, current.budget),
        metadata=(body.metadata or {}) if "metadata" in given else current.metadata,
        updated_at=utcnow(),
    )
    return await store.update_team(record)


async def delete_team(store: KeyStore, name: str, *, revoke_keys: bool = False) -> TeamRecord:
    """Delete a team; its live keys are refused unless ``revoke_keys``, which revokes them."""
    current = await store.get_team(name)
    if current is None or not current.active:
        raise Missing(name)
    live = [k for k in await store.list_keys(team=name) if not k.revoked]
    if live and not revoke_keys:
        raise Conflict(f"team {name!r} has {len(live)} active keys (revoke them, or force)")
    for key in live:
        await revoke_key(store, key.id)
    now = utcnow()
    return await store.update_team(replace(current, deleted_at=now, updated_at=now))

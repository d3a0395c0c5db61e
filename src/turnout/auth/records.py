"""Teams and gateway keys as stored: plain frozen records, independent of any backend.

The variable part of a record (models, limits, budget, metadata) is one JSON document in the
database, so adding a field is not a migration; the columns are only what is looked up or
filtered on (id, hash, team, version, timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
# What a key may do besides calling models: ``admin`` opens the admin API (reads and writes),
# as the master key does, without sharing the master key; ``viewer`` lets it read everything
# the admin API and the dashboard show, and change nothing.
Scope = Literal["admin", "viewer"]
SCOPES: tuple[str, ...] = ("admin", "viewer")
AdminRole = Literal["admin", "viewer"]  # what the admin API lets a caller do


def role_of(scopes: tuple[str, ...]) -> AdminRole | None:
    """The admin role a key's scopes give it (admin wins over viewer)."""
    if "admin" in scopes:
        return "admin"
    return "viewer" if "viewer" in scopes else None


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute rates and requests in flight; None means unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None

    def __bool__(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_parallel is not None

    def as_dict(self) -> dict[str, int | None]:
        return {"rpm": self.rpm, "tpm": self.tpm, "max_parallel": self.max_parallel}

    @classmethod
    def from_dict(cls, raw: Any) -> Limits:
        if not isinstance(raw, dict):
            return cls()
        return cls(raw.get("rpm"), raw.get("tpm"), raw.get("max_parallel"))


@dataclass(frozen=True, slots=True)
class Budget:
    amount: float  # USD per period
    period: Period = "month"

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "period": self.period}

    @classmethod
    def from_dict(cls, raw: Any) -> Budget | None:
        if not isinstance(raw, dict) or raw.get("amount") is None:
            return None
        return cls(float(raw["amount"]), raw.get("period") or "month")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TeamRecord:
    name: str
    models: tuple[str, ...] = ()  # glob patterns of public models; empty: every model
    limits: Limits = Limits()
    budget: Budget | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None
    version: int = 0

    @property
    def active(self) -> bool:
        return self.deleted_at is None

    def document(self) -> bytes:
        return orjson.dumps(
            {
                "models": list(self.models),
                "limits": self.limits.as_dict(),
                "budget": self.budget.as_dict() if self.budget else None,
                "metadata": self.metadata,
            }
        )

    @classmethod
    def from_document(cls, name: str, doc: bytes | str, **columns: Any) -> TeamRecord:
        raw = orjson.loads(doc)
        return cls(
            name=name,
            models=tuple(raw.get("models") or ()),
            limits=Limits.from_dict(raw.get("limits")),
            budget=Budget.from_dict(raw.get("budget")),
            metadata=raw.get("metadata") or {},
            **columns,
        )

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "models": list(self.models),
            **self.limits.as_dict(),
            "budget": self.budget.amount if self.budget else None,
            "budget_period": self.budget.period if self.budget else None,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
        }


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    hash: str  # SHA-256 of the key, hex
    prefix: str  # the first characters, to recognise a key in a list
    name: str | None = None
    team: str | None = None
    models: tuple[str, ...] = ()
    limits: Limits = Limits()
    # (model glob, limits) in order; the first glob matching the requested model applies.
    model_limits: tuple[tuple[str, Limits], ...] = ()
    budget: Budget | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None
    version: int = 0

    def __repr__(self) -> str:  # short: lists of records end up in logs and test output
        return f"KeyRecord(id={self.id!r}, prefix={self.prefix!r}, team={self.team!r})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def document(self) -> bytes:
        return orjson.dumps(
            {
                "name": self.name,
                "models": list(self.models),
                "limits": self.limits.as_dict(),
                "model_limits": [[glob, lim.as_dict()] for glob, lim in self.model_limits],
                "budget": self.budget.as_dict() if self.budget else None,
                "metadata": self.metadata,
                "scopes": list(self.scopes),
            }
        )

    @classmethod
    def from_document(cls, doc: bytes | str, **columns: Any) -> KeyRecord:
        raw = orjson.loads(doc)
        return cls(
            name=raw.get("name"),
            models=tuple(raw.get("models") or ()),
            limits=Limits.from_dict(raw.get("limits")),
            model_limits=tuple(
                (str(glob), Limits.from_dict(lim)) for glob, lim in raw.get("model_limits") or ()
            ),
            budget=Budget.from_dict(raw.get("budget")),
            metadata=raw.get("metadata") or {},
            scopes=tuple(s for s in raw.get("scopes") or () if s in SCOPES),
            **columns,
        )

    def public(self) -> dict[str, Any]:
        """What the admin API and CLI show: never the hash, and the key itself is not known."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "team": self.team,
            "models": list(self.models),
            **self.limits.as_dict(),
            "model_limits": {glob: lim.as_dict() for glob, lim in self.model_limits},
            "budget": self.budget.amount if self.budget else None,
            "budget_period": self.budget.period if self.budget else None,
            "metadata": self.metadata,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "status": "revoked" if self.revoked else ("expired" if self.expired() else "active"),
        }


def touched(record: Any, **changes: Any) -> Any:
    """A copy of a record with ``changes`` and a fresh ``updated_at``."""
    return replace(record, **changes, updated_at=utcnow())


@dataclass(frozen=True, slots=True)
class Changes:
    """Rows changed since a version (a replica's refresh), and the version they bring it to."""

    version: int
    keys: list[KeyRecord]
    teams: list[TeamRecord]
    # Dashboard sessions signed out on some process, (session id, its expiry in epoch
    # seconds): every replica refuses them from its next poll (turnout.dashboard.session).
    sign_outs: list[tuple[str, int]] = field(default_factory=list)

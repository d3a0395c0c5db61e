"""Provider accounts signed in with OAuth: what is stored about each, and the store's port.

Only sealed tokens are stored (:mod:`turnout.crypto`, the row's id, provider and token kind as
associated data), never shown, never logged. ``version`` grows with every change of tokens or
status, so a gateway re-reads only what changed. The refresh *lease* (``lease_owner`` until
``lease_until``) lets one process at a time refresh an account: a process takes it with a
compare-and-set, refreshes, and writes the new tokens only while it still holds it; a lease
whose holder died simply runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from turnout.auth.records import utcnow

if TYPE_CHECKING:
    from turnout.crypto import SecretBox
    from turnout.oauth.client import Tokens

ACTIVE = "active"
INVALID = "invalid"


def context(account_id: str, provider: str, kind: str) -> str:
    """Associated data binding a sealed token to its row, provider and kind."""
    return f"oauth:{account_id}:{provider}:{kind}"


def seal_tokens(
    box: SecretBox, account_id: str, provider: str, tokens: Tokens
) -> tuple[str, str | None, datetime | None]:
    """Fresh tokens as an account row keeps them: the access and refresh tokens sealed to the
    row (:func:`context`), the expiry as a time."""
    access = box.seal(tokens.access_token, context(account_id, provider, "access"))
    refresh = (
        box.seal(tokens.refresh_token, context(account_id, provider, "refresh"))
        if tokens.refresh_token
        else None
    )
    expires = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None
    return access, refresh, expires


def open_tokens(box: SecretBox, record: AccountRecord) -> tuple[str, str | None]:
    """A row's access and refresh tokens, opened (``SecretKeyError`` when they cannot be)."""
    access = box.open(record.access_token, context(record.id, record.provider, "access"))
    refresh = (
        box.open(record.refresh_token, context(record.id, record.provider, "refresh"))
        if record.refresh_token
        else None
    )
    return access, refresh


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    provider: str
    access_token: str  # sealed
    refresh_token: str | None = None  # sealed
    expires_at: datetime | None = None
    name: str | None = None
    status: str = ACTIVE
    reason: str | None = None
    version: int = 1
    lease_owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None

    def __repr__(self) -> str:
        return f"AccountRecord(id={self.id!r}, provider={self.provider!r}, status={self.status!r})"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refreshable": self.refresh_token is not None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class AccountStore(Protocol):
    async def add(self, record: AccountRecord) -> None: ...

    async def list(self, since_version: int = 0) -> list[AccountRecord]:
        """Accounts changed after ``since_version`` (deleted ones included, so a reader
        learns of the deletion), oldest first."""
        ...

    async def get(self, account_id: str) -> AccountRecord | None: ...

    async def lease(self, account_id: str, owner: str, seconds: float) -> AccountRecord | None:
        """Take the refresh lease if it is free, expired or already ours; the record as it
        stands then, or None when another process holds it."""
        ...

    async def save_tokens(
        self,
        account_id: str,
        owner: str,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> bool:
        """New tokens, written only while ``owner`` holds the lease (which ends)."""
        ...

    async def invalidate(self, account_id: str, owner: str | None, reason: str) -> bool: ...

    async def release(self, account_id: str, owner: str) -> None: ...

    async def delete(self, account_id: str) -> bool: ...


class MemoryAccountStore:
    """The port in one process (tests, ``memory://`` storage)."""

    def __init__(self) -> None:
        self.records: dict[str, AccountRecord] = {}
        self._version = 0

    def _next(self) -> int:
        self._version += 1
        return self._version

    async def add(self, record: AccountRecord) -> None:
        self.records[record.id] = replace(record, version=self._next())

    async def list(self, since_version: int = 0) -> list[AccountRecord]:
        found = [r for r in self.records.values() if r.version > since_version]
        return sorted(found, key=lambda r: r.created_at)

    async def get(self, account_id: str) -> AccountRecord | None:
        found = self.records.get(account_id)
        return None if found is None or found.deleted_at else found

    async def lease(self, account_id: str, owner: str, seconds: float) -> AccountRecord | None:
        found = await self.get(account_id)
        now = utcnow()
        if found is None or (
            found.lease_owner not in (None, owner)
            and found.lease_until is not None
            and found.lease_until > now
        ):
            return None
        leased = replace(found, lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        self.records[account_id] = leased
        return leased

    async def save_tokens(
        self,
        account_id: str,
        owner: str,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> bool:
        found = await self.get(account_id)
        if found is None or found.lease_owner != owner:
            return False
        self.records[account_id] = replace(
            found,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            status=ACTIVE,
            reason=None,
            lease_owner=None,
            lease_until=None,
            updated_at=utcnow(),
            version=self._next(),
        )
        return True

    async def invalidate(self, account_id: str, owner: str | None, reason: str) -> bool:
        found = await self.get(account_id)
        if found is None or (owner is not None and found.lease_owner != owner):
            return False
        self.records[account_id] = replace(
            found,
            status=INVALID,
            reason=reason,
            lease_owner=None,
            lease_until=None,
            updated_at=utcnow(),
            version=self._next(),
        )
        return True

    async def release(self, account_id: str, owner: str) -> None:
        found = await self.get(account_id)
        if found is not None and found.lease_owner == owner:
            self.records[account_id] = replace(found, lease_owner=None, lease_until=None)

    async def delete(self, account_id: str) -> bool:
        found = await self.get(account_id)
        if found is None:
            return False
        self.records[account_id] = replace(found, deleted_at=utcnow(), version=self._next())
        return True

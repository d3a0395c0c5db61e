"""Provider credentials added through the admin API: sealed at rest, joined to their
provider's key pool when a gateway starts.

Only the sealed form (:mod:`turnout.crypto`) is stored, and only a mask is ever shown.
Decrypted keys join ``providers.<name>.api_keys`` before the gateway is built, so everything
that already keeps provider keys out of sight (masked admin output, redacted captures,
fingerprints in health, reprs without keys) covers them too; a new credential therefore
serves from the next start (or new replica) on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from turnout.auth.records import utcnow
from turnout.config.compile import Runtime, compile_config
from turnout.crypto import SecretBox, SecretKeyError
from turnout.observability.logging import get_logger

log = get_logger("turnout.auth")
LOAD_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    id: str
    provider: str
    mask: str
    secret: str  # sealed
    name: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None

    def __repr__(self) -> str:
        return f"CredentialRecord(id={self.id!r}, provider={self.provider!r}, mask={self.mask!r})"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "api_key": self.mask,
            "created_at": self.created_at.isoformat(),
        }


class CredentialStore(Protocol):
    async def add(self, record: CredentialRecord) -> None: ...

    async def list(self) -> list[CredentialRecord]:
        """Live credentials (not deleted), oldest first."""
        ...

    async def delete(self, credential_id: str) -> bool: ...


class MemoryCredentialStore:
    def __init__(self) -> None:
        self.records: dict[str, CredentialRecord] = {}

    async def add(self, record: CredentialRecord) -> None:
        self.records[record.id] = record

    async def list(self) -> list[CredentialRecord]:
        live = [r for r in self.records.values() if r.deleted_at is None]
        return sorted(live, key=lambda r: r.created_at)

    async def delete(self, credential_id: str) -> bool:
        found = self.records.get(credential_id)
        if found is None or found.deleted_at is not None:
            return False
        self.records[credential_id] = CredentialRecord(
            found.id,
            found.provider,
            found.mask,
            found.secret,
            found.name,
            found.created_at,
            utcnow(),
        )
        return True


def mask(secret: str) -> str:
    """Enough to tell two keys apart, never enough to use one."""
    return "****" if len(secret) <= 12 else f"{secret[:3]}…{secret[-4:]}"


def context(record_id: str, provider: str) -> str:
    """Associated data binding a sealed key to its row and provider."""
    return f"credential:{record_id}:{provider}"


def decrypt_all(records: list[CredentialRecord], box: SecretBox) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for r in records:
        try:
            keys.setdefault(r.provider, []).append(box.open(r.secret, context(r.id, r.provider)))
        except SecretKeyError as exc:
            log.error("stored credential not usable", credential=r.id, error=str(exc))
    return keys


def with_keys(runtime: Runtime, extra: Mapping[str, list[str]]) -> Runtime:
    """The runtime with stored keys appended to their providers' key pools."""
    config = runtime.config
    providers = dict(config.providers)
    changed = False
    for name, keys in extra.items():
        provider = providers.get(name)
        if provider is None:
            log.warning("stored credential for a provider not in the config", provider=name)
            continue
        pool = [k for k in provider.api_keys if k]
        new = [k for k in keys if k not in pool]
        if new:
            providers[name] = provider.model_copy(update={"api_keys": pool + new})
            changed = True
    if not changed:
        return runtime
    return compile_config(config.model_copy(update={"providers": providers}))


def apply_stored(runtime: Runtime, environ: Mapping[str, str] = os.environ) -> Runtime:
    """Join stored credentials to the runtime, reading the database once (in a thread: this
    runs before the server's event loop, or inside it in a worker's app factory)."""
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import database_url

    storage = runtime.config.storage
    if not storage.enabled:
        return runtime
    url = database_url(storage, environ)
    load = backend_for(url).saved_credentials
    try:
        with ThreadPoolExecutor(1) as pool:
            records = pool.submit(asyncio.run, load(url, LOAD_TIMEOUT)).result()
    except Exception as exc:
        log.error("stored provider credentials not loaded", error=repr(exc)[:300])
        return runtime
    if not records:
        return runtime
    try:
        box = SecretBox.from_env(environ)
    except SecretKeyError as exc:
        log.error("stored provider credentials not loaded", error=str(exc))
        return runtime
    if box is None:
        log.error(
            "stored provider credentials not loaded: TURNOUT_SECRET_KEY is not set",
            credentials=len(records),
        )
        return runtime
    return with_keys(runtime, decrypt_all(records, box))

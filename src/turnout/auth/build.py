"""What an authentication service is built from: the master key, the key and credential
stores of the storage backend, the limiter and the limits' estimator. Kept apart from the
service itself, which only runs them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from turnout.auth.credentials import CredentialStore, MemoryCredentialStore
from turnout.auth.store import KeyStore, MemoryKeyStore
from turnout.budgets.estimate import Estimator
from turnout.config.compile import Runtime
from turnout.config.schema import LimitsConfig
from turnout.limits.memory import MemoryLimiter

if TYPE_CHECKING:
    from turnout.limits.redis import RedisLimiter
    from turnout.storage import Storage

MASTER_ENV = "TURNOUT_MASTER_KEY"


def master_key(runtime: Runtime, environ: Mapping[str, str] = os.environ) -> str | None:
    key = environ.get(MASTER_ENV) or runtime.config.auth.master_key
    if key is not None and len(key) < 16:
        raise ValueError(f"the master key must be at least 16 characters ({MASTER_ENV})")
    return key or None


def stores_for(storage: Storage | None) -> tuple[KeyStore, CredentialStore]:
    """The key and credential stores of the storage's backend (SQL on SQLite or PostgreSQL,
    or memory for ``storage.url: memory://``); in memory when storage is off (keys then last
    as long as the process)."""
    if storage is not None:
        return storage.stores.keys, storage.stores.credentials
    return MemoryKeyStore(), MemoryCredentialStore()


def estimator_for(runtime: Runtime) -> Estimator:
    """The limits' estimator for ``runtime``'s models, prices and output estimates."""
    limits = runtime.config.limits
    return Estimator(runtime, limits.output_estimate, limits.budget_output_estimate)


def build_limiter(cfg: LimitsConfig) -> MemoryLimiter | RedisLimiter:
    if cfg.backend == "redis":
        from turnout.limits.redis import RedisLimiter  # redis-py only when configured

        return RedisLimiter(
            cfg.redis_url,
            prefix=cfg.key_prefix,
            timeout=cfg.redis_timeout,
            retry_after=cfg.redis_retry_after,
            on_error=cfg.on_redis_error,
            lease=cfg.lease,
        )
    return MemoryLimiter(lease=cfg.lease)

"""Which limiter a gateway runs, asked without importing redis-py.

redis-py (and the OpenTelemetry SDK it pulls in) costs ~25 MB of resident memory per process
(docs/measurements.md#memory), so :mod:`turnout.limits.redis` is imported only when
``limits.backend: redis`` builds a :class:`~turnout.limits.redis.RedisLimiter`. Code that only
needs to know whether a limiter is that one asks here: if the module was never imported, no
limiter can be one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from turnout.limits.redis import RedisLimiter

# Seconds a slot in flight or a budget reservation lasts unless renewed (``limits.lease``).
# Running calls are renewed every third of it, so it bounds only how long a process that died
# without releasing them (a worker killed by the OOM killer, a crashed replica) keeps them:
# 900 s before, during which a key with ``max_parallel: 1`` was refused every call.
LEASE = 30.0


def is_redis(limiter: object) -> TypeGuard[RedisLimiter]:
    module = sys.modules.get("turnout.limits.redis")
    return module is not None and isinstance(limiter, module.RedisLimiter)

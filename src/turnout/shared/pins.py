"""A sticky client's first pin, agreed by every replica at once.

Pins travel between replicas through a stream the sync task reads every
``shared.sync_interval``; until then another replica does not know the client, and a client
whose next request (or whose concurrent requests) reach another replica would be pinned
there independently. So with a shared backend the ``sticky`` strategy reads through on a
local miss: before ordering a client it has no live pin for, it *claims* one (one Lua script:
the pin already there, else the deployment this replica would pick, set with the pin's TTL).
Whoever claims first wins, and every replica adopts the winner's deployment. Later requests of
that client hit the local table (no Redis call); a moved or refreshed pin is written over by
the sync task.

Each claim waits at most ``shared.redis_timeout``; when Redis fails, the strategy pins locally
as it does with one process and claims nothing for :data:`RETRY_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import time

from turnout.shared.port import StateBackend

RETRY_AFTER = 5.0  # seconds without claims after Redis failed one


def _failures() -> tuple[type[BaseException], ...]:
    """What a claim may fail with; evaluated only when one raised, so redis-py is imported
    with a shared backend only (claims are made through a Redis one)."""
    from turnout.redisconn import FAILURES

    return FAILURES


class PinClaims:
    def __init__(self, backend: StateBackend, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self.claims = 0
        self.failures = 0
        self._down_until = 0.0

    async def claim(
        self, model: str, client: str, deployment: str, ttl: float
    ) -> tuple[str, float] | None:
        """(the pinned deployment, seconds left), or None when Redis cannot say."""
        if self._down_until and time.monotonic() < self._down_until:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                got = await self.backend.claim_pin(model, client, deployment, ttl)
        except _failures():  # TimeoutError among them
            self.failures += 1
            self._down_until = time.monotonic() + RETRY_AFTER
            return None
        self._down_until = 0.0
        self.claims += 1
        return got

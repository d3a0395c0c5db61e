"""The port through which replicas share health and routing state, and its memory backend.

The request path does not call it (but for the few calls of :mod:`turnout.routing.admit` and a
sticky client's first request): each process keeps the state it routes by in memory (the
health board, the sticky pins) and a background task (:mod:`turnout.shared.sync`) publishes
what changed here and applies what changed elsewhere, every ``shared.sync_interval``. So a
shared backend costs no Redis round trip per request, and a change made by one replica (or by
the keeper) reaches the others within about one interval.

What travels:

- **records**: a deployment's or key's breaker state as :meth:`Circuit.record` writes it
  (state, reason, ``until`` in wall-clock seconds, ejections, the keeper's last probe), stamped
  with ``at`` (wall clock) and ``origin`` (the replica); the newest ``at`` wins;
- **pins**: a sticky client's deployment (:class:`Pin`), newest first; the first pin of a
  client is also claimed atomically (:meth:`StateBackend.claim_pin`), so replicas that see the
  client at the same moment agree on it;
- **latency**: each replica's moving average per deployment, merged by each reader;
- **leases**: who may run a singleton job (the health keeper) until when.

The memory backend serves one process: there is nobody to share with, so it only keeps the
leases (every keeper of the process goes through the same one).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pin:
    """A sticky client pinned to a deployment of a model until ``expires`` (wall clock)."""

    model: str
    client: str
    deployment: str
    expires: float
    origin: str = ""  # the replica that made it


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds a lease and for how many more seconds (None when nobody does)."""

    holder: str | None
    expires_in: float | None


class StateBackend(Protocol):
    shared: bool

    async def publish(self, records: Sequence[Record]) -> None:
        """Save records (upserted by kind and id) for every replica to read."""
        ...

    async def changes(self) -> list[Record] | None:
        """Every record, if any replica published since the last call; else None."""
        ...

    async def publish_pins(self, pins: Sequence[Pin]) -> None: ...

    async def new_pins(self) -> list[Pin]:
        """Pins published (by anyone) since the last call; all live ones on the first."""
        ...

    async def claim_pin(
        self, model: str, client: str, deployment: str, ttl: float
    ) -> tuple[str, float]:
        """The client's pin: the one any replica made first, else ``deployment`` (pinned now
        for ``ttl`` seconds). Returns the pinned deployment and its seconds left."""
        ...

    async def publish_latency(self, origin: str, latencies: dict[str, tuple[float, int]]) -> None:
        """This replica's latency per deployment: (moving average in seconds, samples)."""
        ...

    async def latencies(self) -> dict[str, list[tuple[float, int, float]]]:
        """Per deployment, every replica's (latency, samples, published at)."""
        ...

    async def acquire(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False if another holds it."""
        ...

    async def release(self, name: str, holder: str) -> None: ...

    async def lease(self, name: str) -> LeaseInfo: ...

    async def close(self) -> None: ...


class MemoryStateBackend:
    """One process: nothing to exchange; leases are kept so one process runs one keeper."""

    shared = False

    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, float]] = {}

    async def publish(self, records: Sequence[Record]) -> None:
        return None

    async def changes(self) -> list[Record] | None:
        return None

    async def publish_pins(self, pins: Sequence[Pin]) -> None:
        return None

    async def new_pins(self) -> list[Pin]:
        return []

    async def claim_pin(
        self, model: str, client: str, deployment: str, ttl: float
    ) -> tuple[str, float]:
        return deployment, ttl

    async def publish_latency(self, origin: str, latencies: dict[str, tuple[float, int]]) -> None:
        return None

    async def latencies(self) -> dict[str, list[tuple[float, int, float]]]:
        return {}

    async def acquire(self, name: str, holder: str, ttl: float) -> bool:
        now = time.monotonic()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current[0] == holder:
            del self._leases[name]

    async def lease(self, name: str) -> LeaseInfo:
        current = self._leases.get(name)
        now = time.monotonic()
        if current is None or current[1] <= now:
            return LeaseInfo(None, None)
        return LeaseInfo(current[0], round(current[1] - now, 3))

    async def close(self) -> None:
        return None


def build_backend(config: Any) -> StateBackend:
    """The backend ``shared.backend`` names (``config`` is a :class:`SharedConfig`)."""
    if config.backend == "redis":
        from turnout.shared.redis import RedisStateBackend

        return RedisStateBackend(config.redis_url, config.key_prefix, config.redis_timeout)
    return MemoryStateBackend()

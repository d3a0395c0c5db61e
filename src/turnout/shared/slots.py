"""A deployment's ``max_concurrent`` counted once for every replica, in Redis.

Each process counts its own requests in flight (``DeploymentHealth.inflight``), which with N
replicas would let N times a deployment's limit through. With ``shared.backend: redis`` a
deployment that declares ``max_concurrent`` gets a :class:`SharedSlots`: before an attempt is
sent there, one Lua script takes a *slot* (a member of a sorted set scored by its deadline,
Redis's clock) if fewer than the limit are live, atomically for all replicas.

A slot is a lease, not a counter, so a replica that dies holding slots does not leak them: each
expires ``health.lease`` seconds after it was taken or last renewed, and the process renews the
slots it holds every third of that (:func:`renew`, from the sync task; one command per
deployment whatever the number of calls). A call gives its slot back on every exit path
(success, error, the client going away, a stream cut), because the router releases a slot
wherever it lowers ``inflight`` (:meth:`DeploymentHealth.leave`). Slots are interchangeable
within a process: a release gives back any one this process holds, so nothing ties a slot to
a call and the synchronous exit paths (a stream's ``aclose``, a finaliser) can release one;
the ``ZREM`` itself is sent in the background.

A refusal keeps this process from asking again for :data:`FULL_HOLD` (the deployment counts as
at its limit: the router fails over, or answers 429). A call waits at most
``shared.redis_timeout``; when Redis fails, the slot is granted without Redis and the shared
count is skipped for :data:`RETRY_AFTER` seconds, each process bounded by its own
``max_concurrent`` meanwhile (as the ``rpm``/``tpm`` gate).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import TYPE_CHECKING, Any

from turnout.health.targets import DeploymentHealth
from turnout.redisconn import FAILURES

if TYPE_CHECKING:
    from turnout.shared.redis import RedisStateBackend

FULL_HOLD = 0.05  # seconds a refused deployment counts as full here without asking again
RETRY_AFTER = 5.0  # seconds the shared count is skipped after Redis failed

# KEYS: the slot set. ARGV: limit, ttl ms, token. 1: taken, 0: full.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""
# KEYS: the slot set. ARGV: ttl ms, tokens... Pushes the deadline of the tokens still there.
_RENEW = """
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


class SharedSlots:
    __slots__ = (
        "_count",
        "_down_until",
        "_key",
        "_limit",
        "_origin",
        "_pending",
        "_renew",
        "_take",
        "_timeout",
        "backend",
        "failures",
        "loose",
        "refused",
        "tokens",
        "ttl",
    )

    def __init__(
        self,
        backend: RedisStateBackend,
        health: DeploymentHealth,
        origin: str,
        timeout: float,
        ttl: float,
    ) -> None:
        assert health.max_concurrent is not None
        self.backend = backend
        self._key = backend.key("slots:" + health.id)
        self._limit = health.max_concurrent
        self._origin = origin
        self._count = itertools.count()
        self._take: Any = backend.client.register_script(_TAKE)
        self._renew: Any = backend.client.register_script(_RENEW)
        self._timeout = timeout
        self.ttl = ttl
        self.tokens: list[str] = []  # slots this process holds in Redis
        self.loose = 0  # calls admitted without a slot (Redis was down)
        self.failures = 0
        self.refused = 0
        self._down_until = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    def held(self) -> int:
        return len(self.tokens) + self.loose

    async def acquire(self, health: DeploymentHealth, now: float) -> bool:
        """Take a slot for a call about to be sent; False when every slot is taken."""
        if self._down_until and time.monotonic() < self._down_until:
            self.loose += 1
            return True
        token = f"{self._origin}:{next(self._count)}"
        try:
            async with asyncio.timeout(self._timeout):
                got = await self._take(
                    keys=[self._key], args=[self._limit, int(self.ttl * 1000), token]
                )
        except FAILURES:  # TimeoutError among them
            self.failures += 1
            self._down_until = time.monotonic() + RETRY_AFTER
            self._drop(token)  # in case the script ran after all
            self.loose += 1
            return True
        except asyncio.CancelledError:
            self._drop(token)
            raise
        self._down_until = 0.0
        if got == 1:
            self.tokens.append(token)
            return True
        self.refused += 1
        health.busy_until = now + FULL_HOLD
        return False

    def release(self) -> None:
        """A call that held a slot ended (any slot of this process's will do)."""
        if self.loose:
            self.loose -= 1
        elif self.tokens:
            self._drop(self.tokens.pop())

    def _drop(self, token: str) -> None:
        """Remove ``token`` from Redis in the background; if that fails it expires anyway."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a finaliser at exit: the slot expires by itself
            return
        task = loop.create_task(self._zrem(token))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _zrem(self, token: str) -> None:
        with contextlib.suppress(*FAILURES):
            async with asyncio.timeout(self._timeout):
                await self.backend.client.zrem(self._key, token)

    async def renew(self) -> None:
        """Push the deadline of every slot this process holds (the sync task's job)."""
        tokens = list(self.tokens)
        if tokens:
            async with asyncio.timeout(self._timeout):
                await self._renew(keys=[self._key], args=[int(self.ttl * 1000), *tokens])


def install(
    backend: RedisStateBackend,
    deployments: dict[str, DeploymentHealth],
    origin: str,
    timeout: float,
    ttl: float,
) -> list[SharedSlots]:
    """Give every deployment with ``max_concurrent`` its shared slots (keeping those whose
    limit is unchanged, so a reload does not forget the slots its calls hold)."""
    out: list[SharedSlots] = []
    for health in deployments.values():
        current = health.slots
        if health.max_concurrent is None:
            health.slots = None
        elif current is None or current._limit != health.max_concurrent:
            health.slots = SharedSlots(backend, health, origin, timeout, ttl)
            if current is not None:  # calls in flight give their slots back to the new one
                health.slots.tokens, health.slots.loose = current.tokens, current.loose
        if health.slots is not None:
            out.append(health.slots)
    return out

"""A deployment's ``rpm``/``tpm`` counted once for every replica, in Redis.

Each process keeps its own windows (:class:`turnout.health.limits.RateWindow`), which with N
replicas would admit N times a deployment's limit. With ``shared.backend: redis`` a deployment
that declares ``rpm`` or ``tpm`` gets a gate: before an attempt is sent there, one Lua script
applies the same two-window count as the local windows, atomically for all replicas, with
Redis's clock; a refusal fills the local windows so this process routes around the deployment
(and answers 429 with a Retry-After when nothing else is left) without asking again until the
window turns. That is one Redis round trip per attempt, and only for deployments with such a
limit: exactness across replicas costs exactly that. A call waits at most
``shared.redis_timeout``; when Redis fails, the gate admits and is skipped for a few seconds,
the local windows alone bounding each process meanwhile (as the key limits' ``allow`` mode).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from turnout.health.limits import WINDOW
from turnout.health.targets import DeploymentHealth
from turnout.redisconn import FAILURES

if TYPE_CHECKING:
    from turnout.shared.redis import RedisStateBackend

# KEYS: rpm hash, tpm hash. ARGV: window ms, rpm limit (0: none), tpm limit (0: none), tokens.
# Returns 1 (admitted), 0 (rpm full) or -1 (tpm full).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[1])
local idx = math.floor(now / w)
local elapsed = now - idx * w
local function load(key)
  local v = redis.call('HMGET', key, 'i', 'c', 'p')
  local i = tonumber(v[1]) or idx
  local c = tonumber(v[2]) or 0
  local p = tonumber(v[3]) or 0
  if i ~= idx then
    if idx == i + 1 then p = c else p = 0 end
    c = 0
  end
  return c, p
end
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local amounts = {1, tonumber(ARGV[4])}
local state = {}
for n = 1, 2 do
  if limits[n] > 0 then
    local c, p = load(KEYS[n])
    if p * (1 - elapsed / w) + c + amounts[n] > limits[n] then
      return n == 1 and 0 or -1
    end
    state[n] = {c, p}
  end
end
for n = 1, 2 do
  if state[n] then
    redis.call('HSET', KEYS[n], 'i', idx, 'c', state[n][1] + amounts[n], 'p', state[n][2])
    redis.call('PEXPIRE', KEYS[n], w * 2)
  end
end
return 1
"""
RETRY_AFTER = 5.0  # seconds the gate is skipped after Redis failed it


class SharedGate:
    __slots__ = ("_down_until", "_keys", "_rpm", "_script", "_timeout", "_tpm", "failures")

    def __init__(
        self, backend: RedisStateBackend, health: DeploymentHealth, timeout: float = 1.0
    ) -> None:
        base = backend.key("limit:" + health.id)
        self._keys = [base + ":rpm", base + ":tpm"]
        self._rpm = health.rpm.limit if health.rpm is not None else 0
        self._tpm = health.tpm.limit if health.tpm is not None else 0
        self._script: Any = backend.client.register_script(_ADMIT)
        self.failures = 0  # Redis errors (admitted by the local windows alone)
        self._timeout = timeout
        self._down_until = 0.0

    async def admit(self, health: DeploymentHealth, tokens: int) -> bool:
        if self._down_until and time.monotonic() < self._down_until:
            return True  # Redis failed just now: the local windows decide for a while
        try:
            async with asyncio.timeout(self._timeout):
                got = await self._script(
                    keys=self._keys, args=[int(WINDOW * 1000), self._rpm, self._tpm, tokens]
                )
        except FAILURES:  # TimeoutError among them
            self.failures += 1
            self._down_until = time.monotonic() + RETRY_AFTER
            return True
        self._down_until = 0.0
        if got == 1:
            return True
        # Full for every replica: full here too until the window turns.
        now = time.monotonic()
        window = health.rpm if got == 0 else health.tpm
        if window is not None:
            gap = window.limit - window.used(now)
            if gap > 0:
                window.add(now, math.ceil(gap))
        return False


def install(
    backend: RedisStateBackend, deployments: dict[str, DeploymentHealth], timeout: float
) -> int:
    """Give every deployment with an ``rpm`` or ``tpm`` a gate; returns how many."""
    n = 0
    for health in deployments.values():
        if health.rpm is not None or health.tpm is not None:
            health.gate = SharedGate(backend, health, timeout)
            n += 1
    return n

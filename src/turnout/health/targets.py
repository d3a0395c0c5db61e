"""What the router knows about each upstream deployment and each API key, kept in memory.

A deployment is a provider plus an upstream model (``openai/gpt-4o``); every public model that
lists it shares its health, because an outage of ``openai/gpt-4o`` is an outage for all of
them. A key's state is kept per model (``shared_key_status: false``, the default: providers
rate-limit and grant access per model) or once per provider (account-level limits).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from turnout.health.breaker import ACTIVE, EJECTED, RATE_LIMITED, Breaker, BreakerPolicy, Journal
from turnout.health.limits import RateWindow

if TYPE_CHECKING:
    from turnout.shared.gate import SharedGate
    from turnout.shared.slots import SharedSlots

LATENCY_ALPHA = 0.3  # weight of the newest sample in the moving average
# Why a deployment cannot take a request (see DeploymentHealth.blocked).
LIMITED, COOLING, KEYS = "limited", "cooling", "keys"


def fingerprint(secret: str) -> str:
    """Names a key in state and logs without revealing it (stable across restarts)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:10]


def mask(secret: str) -> str:
    if len(secret) <= 8:
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"


class KeyHealth(Breaker):
    kind = "key"
    __slots__ = (
        "fingerprint",
        "index",
        "probe_latency",
        "probe_reason",
        "probed_at",
        "provider",
        "scope",
        "secret",
    )

    def __init__(
        self,
        provider: str,
        scope: str,
        index: int,
        secret: str,
        policy: BreakerPolicy,
        journal: Journal,
    ) -> None:
        fp = fingerprint(secret)
        super().__init__(f"{provider}/{scope}#{fp}", policy, journal)
        self.provider = provider
        self.scope = scope  # upstream model, or "*" for a provider-wide state
        self.index = index
        self.secret = secret
        self.fingerprint = fp
        self.probed_at: float | None = None  # wall clock of the last keeper probe
        self.probe_reason: str | None = None
        self.probe_latency: float | None = None

    def __repr__(self) -> str:  # the secret must never reach a log line through a repr
        return f"KeyHealth({self.id!r}, state={self.state!r})"

    def record(self, now: float, wall: float) -> dict[str, Any]:
        out = super().record(now, wall)
        out["probed_at"] = self.probed_at
        out["probe_reason"] = self.probe_reason
        return out

    def restore(self, record: dict[str, Any], now: float, wall: float) -> None:
        super().restore(record, now, wall)
        self.probed_at = record.get("probed_at")
        self.probe_reason = record.get("probe_reason")


class KeyPool:
    """The keys one deployment may use, handed out in turn, skipping unusable ones."""

    __slots__ = ("_next", "keys")

    def __init__(self, keys: tuple[KeyHealth, ...]) -> None:
        self.keys = keys
        self._next = 0

    def available(self, now: float) -> bool:
        for key in self.keys:  # noqa: SIM110 (a loop, not any(): no generator per request)
            if key.until <= now and not key.trial:
                return True
        return False

    def pick(self, now: float, tried: list[KeyHealth] | None = None) -> KeyHealth | None:
        keys = self.keys
        n = len(keys)
        if n == 1:
            key = keys[0]
            if key.until <= now and not key.trial and (not tried or key not in tried):
                return key
            return None
        start = self._next
        self._next = (start + 1) % n
        for i in range(n):
            key = keys[(start + i) % n]
            if key.until <= now and not key.trial and (not tried or key not in tried):
                return key
        return None

    def retry_after(self, now: float) -> float:
        return max(0.0, min(k.until for k in self.keys) - now)

    def block_kind(self) -> str:
        """Why no key is usable: ``limited`` if one waits out a rate limit (the client should
        see a 429), ``cooling`` if one was ejected for errors, else ``keys`` (every key was
        rejected: invalid or out of quota)."""
        states = {k.state for k in self.keys}
        if RATE_LIMITED in states or ACTIVE in states:
            return LIMITED
        return COOLING if EJECTED in states else KEYS


class DeploymentHealth(Breaker):
    kind = "deployment"
    __slots__ = (
        "busy_until",
        "gate",
        "inflight",
        "latency",
        "max_concurrent",
        "model",
        "pool",
        "provider",
        "rpm",
        "served",
        "slots",
        "tpm",
    )

    def __init__(
        self,
        provider: str,
        model: str,
        pool: KeyPool,
        policy: BreakerPolicy,
        journal: Journal,
        max_concurrent: int | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
    ) -> None:
        super().__init__(f"{provider}/{model}", policy, journal)
        self.provider = provider
        self.model = model
        self.pool = pool
        self.inflight = 0
        self.max_concurrent = max_concurrent
        self.rpm = RateWindow(rpm) if rpm else None
        self.tpm = RateWindow(tpm) if tpm else None
        self.latency = 0.0  # moving average of seconds to the first byte; 0 = no sample yet
        self.served = 0
        # rpm/tpm counted for every replica (turnout.shared.gate); None: this process only.
        self.gate: SharedGate | None = None
        # max_concurrent counted for every replica (turnout.shared.slots); None: this process.
        self.slots: SharedSlots | None = None
        self.busy_until = 0.0  # every replica's slots were taken a moment ago (monotonic)

    def available(self, now: float) -> bool:
        """May a new request be sent here now? (Breaker, limits, at least one usable key.)"""
        if self.until > now or self.trial:
            return False
        mc = self.max_concurrent
        if mc is not None and (self.inflight >= mc or self.busy_until > now):
            return False
        if self.rpm is not None and not self.rpm.has_room(now):
            return False
        if self.tpm is not None and not self.tpm.has_room(now):
            return False
        return self.pool.available(now)

    def blocked(self, now: float) -> tuple[str, float]:
        """Why this deployment is unavailable (``limited``, ``cooling`` or ``keys``) and
        in how many seconds it may be again."""
        if self.until > now or self.trial:
            return COOLING, max(self.until - now, 1.0)
        mc = self.max_concurrent
        if mc is not None and (self.inflight >= mc or self.busy_until > now):
            return LIMITED, 1.0
        if self.rpm is not None and not self.rpm.has_room(now):
            return LIMITED, self.rpm.retry_after(now)
        if self.tpm is not None and not self.tpm.has_room(now):
            return LIMITED, self.tpm.retry_after(now)
        return self.pool.block_kind(), self.pool.retry_after(now)

    def leave(self) -> None:
        """A call sent here ended, however it ended: its in-flight count and, with shared
        slots, its slot are given back."""
        self.inflight -= 1
        slots = self.slots
        if slots is not None:
            slots.release()

    def observe_latency(self, seconds: float) -> None:
        self.served += 1
        if self.latency == 0.0:
            self.latency = seconds
        else:
            self.latency += LATENCY_ALPHA * (seconds - self.latency)

    def record(self, now: float, wall: float) -> dict[str, Any]:
        out = super().record(now, wall)
        out["latency"] = self.latency
        return out

    def restore(self, record: dict[str, Any], now: float, wall: float) -> None:
        super().restore(record, now, wall)
        self.latency = float(record.get("latency") or 0.0)

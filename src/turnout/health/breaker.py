"""The gateway's one circuit breaker (:class:`Circuit`), and passive outlier detection built
on it (:class:`Breaker`): the state machine every deployment and every key carries.

The cache's Redis and the limits' Redis use :class:`Circuit` directly (open on a failure for
their retry time, one trial call after it); routing's targets use :class:`Breaker`.

A target is ``active`` until the upstream tells us otherwise: too many server errors in a row
(or too high a failure rate over a window) *eject* it for a cooldown that doubles with each
ejection; a 429 *rate-limits* it until its Retry-After; an auth or quota answer marks a key
``invalid`` or ``no_quota``. Whatever the state, once its ``until`` has passed exactly one
request is let through as a trial (half-open): its outcome closes the breaker or re-ejects it.

Everything here is synchronous attribute arithmetic with no locks: the gateway runs one event
loop per process, and these methods run between two awaits. Transitions are rare, so they are
the only moments that record anything (an event for the log, the target in the dirty set for
the state store); the steady state writes nothing but counters.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from turnout.config.schema import BreakerConfig

ACTIVE = "active"
EJECTED = "ejected"
RATE_LIMITED = "rate_limited"
NO_QUOTA = "no_quota"
INVALID = "invalid"
STATES = (ACTIVE, EJECTED, RATE_LIMITED, NO_QUOTA, INVALID)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    consecutive_failures: int = 5
    failure_rate: float = 0.5
    window: float = 30.0
    min_requests: int = 20
    cooldown: float = 5.0
    max_cooldown: float = 300.0

    @classmethod
    def from_config(cls, cfg: BreakerConfig) -> BreakerPolicy:
        return cls(
            consecutive_failures=cfg.consecutive_failures,
            failure_rate=cfg.failure_rate,
            window=cfg.window,
            min_requests=cfg.min_requests,
            cooldown=cfg.cooldown,
            max_cooldown=max(cfg.max_cooldown, cfg.cooldown),
        )


class Journal:
    """Where targets report their transitions, drained by a background task.

    ``dirty`` holds targets whose state must be saved (bounded by the number of targets);
    ``events`` holds transitions to log (bounded: the oldest are dropped under a storm).
    """

    __slots__ = ("dirty", "events")

    def __init__(self, capacity: int = 10_000) -> None:
        self.dirty: set[Circuit] = set()
        self.events: deque[tuple[str, str, str, str, str | None, float]] = deque(maxlen=capacity)


class Circuit:
    """The one circuit breaker of the gateway: closed (``active``), or open (any other state)
    until ``until``, after which exactly one call is let through as a trial (half-open): its
    success closes the circuit, its failure opens it again for a cooldown that doubles up to
    ``max_cooldown``.

    Every breaker is one of these: each deployment and each key (:class:`Breaker` adds the
    failure counting routing needs), the cache's Redis (:mod:`turnout.cache.redis_store`) and
    the limits' Redis (:mod:`turnout.limits.redis`), which open on their first failure for
    their ``redis_retry_after``. Transitions are reported to the ``journal`` when there is one.
    A caller that saw ``usable`` and called :meth:`begin` must end with :meth:`close` (or
    :meth:`succeed`), :meth:`eject` (or :meth:`fail`) or :meth:`abandon`, or the circuit
    stays half-open.
    """

    kind: ClassVar[str] = "circuit"
    __slots__ = (
        "changed",
        "ejections",
        "id",
        "journal",
        "last_ejected",
        "policy",
        "reason",
        "state",
        "trial",
        "until",
    )

    def __init__(self, id: str, policy: BreakerPolicy, journal: Journal | None = None) -> None:
        self.id = id
        self.policy = policy
        self.journal = journal
        self.state = ACTIVE
        self.reason: str | None = None
        self.until = 0.0  # monotonic seconds; usable again from then on
        self.trial = False  # a half-open trial call is in flight
        self.ejections = 0
        self.last_ejected = 0.0
        self.changed = 0.0  # wall clock of the last transition (orders replicas' records)

    def usable(self, now: float) -> bool:
        return self.until <= now and not self.trial

    def begin(self) -> None:
        """A call starts: if the circuit is recovering, this call is its trial."""
        if self.state != ACTIVE:
            self.trial = True

    def abandon(self) -> None:
        """The call ended without a verdict (cancelled, or not the target's fault)."""
        self.trial = False

    def close(self, now: float) -> None:
        """A call succeeded. Late successes of calls that started before the circuit opened do
        not cut its cooldown short; a trial's success, or any success after it, closes it."""
        if self.state != ACTIVE and (self.trial or self.until <= now):
            self._set(ACTIVE, None, 0.0, now)

    def eject(self, now: float, reason: str) -> None:
        """Open the circuit for a cooldown that doubles with each ejection."""
        p = self.policy
        # A target that stayed healthy for a whole max cooldown starts its backoff afresh.
        if self.ejections and now - self.last_ejected > 2 * p.max_cooldown:
            self.ejections = 0
        self.ejections += 1
        self.last_ejected = now
        cooldown = min(p.cooldown * 2 ** (self.ejections - 1), p.max_cooldown)
        self._forget()
        self._set(EJECTED, reason, now + cooldown, now)

    def reset(self, now: float) -> None:
        """Back to active at once (the health keeper just saw the target work)."""
        self._forget()
        if self.state != ACTIVE:
            self._set(ACTIVE, None, 0.0, now)

    def mark(self, state: str, reason: str, until: float, now: float) -> None:
        """Put the target in ``state`` until ``until`` (an upstream said so)."""
        self._set(state, reason, until, now)

    def _forget(self) -> None:
        """Subclasses forget their failure counts here."""

    def _set(self, state: str, reason: str | None, until: float, now: float) -> None:
        old = self.state
        self.state, self.reason, self.until, self.trial = state, reason, until, False
        journal = self.journal
        if journal is not None:
            self.changed = time.time()
            journal.dirty.add(self)
            journal.events.append((self.kind, self.id, old, state, reason, until - now))

    # -- persistence -------------------------------------------------------------------------
    def record(self, now: float, wall: float) -> dict[str, Any]:
        """A serialisable snapshot; times become wall-clock so another process can read them."""
        return {
            "kind": self.kind,
            "id": self.id,
            "state": self.state,
            "reason": self.reason,
            "until": wall + (self.until - now) if self.until > now else None,
            "ejections": self.ejections,
            "changed": self.changed or None,
        }

    def restore(self, record: dict[str, Any], now: float, wall: float) -> None:
        state = record.get("state")
        if state not in STATES:
            return
        until = record.get("until")
        self.state = str(state)
        self.reason = record.get("reason")
        self.until = now + (float(until) - wall) if until else 0.0
        self.ejections = int(record.get("ejections") or 0)
        self.last_ejected = now if self.ejections else 0.0
        self.trial = False


class Breaker(Circuit):
    """Health of one deployment or key: the circuit, opened by passive outlier detection
    (consecutive failures, or the failure rate over a window); subclasses add what routing
    needs beside it."""

    kind: ClassVar[str] = "target"
    __slots__ = ("consecutive", "window_failed", "window_start", "window_total")

    def __init__(self, id: str, policy: BreakerPolicy, journal: Journal) -> None:
        super().__init__(id, policy, journal)
        self.consecutive = 0
        self.window_start = 0.0
        self.window_total = 0
        self.window_failed = 0

    def succeed(self, now: float) -> None:
        # The request path calls this on every answer: inlined window count, no method call.
        self.consecutive = 0
        if now - self.window_start > self.policy.window:
            self.window_start = now
            self.window_total = self.window_failed = 0
        self.window_total += 1
        if self.state != ACTIVE and (self.trial or self.until <= now):
            self._set(ACTIVE, None, 0.0, now)

    def fail(self, now: float, reason: str) -> bool:
        """Count a failure that is the target's fault; return True if it was ejected."""
        self._count(now, failed=True)
        if self.trial:
            self.eject(now, reason)
            return True
        if self.state == EJECTED:
            return False  # late failures of attempts that started before the ejection
        self.consecutive += 1
        p = self.policy
        if self.consecutive >= p.consecutive_failures or (
            self.window_total >= p.min_requests
            and self.window_failed >= p.failure_rate * self.window_total
        ):
            self.eject(now, reason)
            return True
        return False

    def _forget(self) -> None:
        self.consecutive = 0

    def eject(self, now: float, reason: str) -> None:
        self.window_total = self.window_failed = 0
        super().eject(now, reason)

    def _count(self, now: float, failed: bool) -> None:
        if now - self.window_start > self.policy.window:
            self.window_start = now
            self.window_total = self.window_failed = 0
        self.window_total += 1
        if failed:
            self.window_failed += 1

"""One half-open trial across every replica, not one per replica.

When a breaker's cooldown ends, each process lets exactly one call through as a trial
(:class:`turnout.health.breaker.Circuit`). With N replicas that is N trials against a
deployment (or key) that was failing a moment ago. With ``shared.backend: redis`` a call about
to become a trial first takes the target's **trial lease** (``SET`` when free or already ours,
``health.lease`` seconds, the keeper lease's script): the replica that gets it sends the
trial; the others keep skipping the target (its cooldown is pushed :data:`RECHECK` seconds
here, without publishing anything) until the trial's outcome reaches them through the shared
records (the breaker closed or ejected again) or they ask again.

The lease is renewed while the trial runs (:meth:`SharedTrials.tend`, from the sync task), and
once it has ended it is cut to a short *settle* time: long enough for the outcome to be
published and read by the others, after which a trial that ended without a verdict (the client
went away) lets another replica try. A replica that dies during a trial holds the lease at most
``health.lease`` seconds.

Only half-open targets cost anything: one Redis call per trial and per refused replica every
:data:`RECHECK` seconds. When Redis fails (or does not answer within ``shared.redis_timeout``)
the trial goes ahead as it would with one process, and the lease is skipped for
:data:`RETRY_AFTER` seconds: at most one trial per replica, as before.
"""

from __future__ import annotations

import asyncio
import time

from turnout.health.breaker import Circuit
from turnout.redisconn import FAILURES
from turnout.shared.port import StateBackend

RECHECK = 1.0  # seconds a replica refused the trial lease skips the target before asking again
RETRY_AFTER = 5.0  # seconds the lease is skipped after Redis failed


class SharedTrials:
    def __init__(
        self, backend: StateBackend, origin: str, timeout: float, ttl: float, settle: float
    ) -> None:
        self.backend = backend
        self.origin = origin
        self.timeout = timeout
        self.ttl = ttl
        self.settle = min(settle, ttl)
        self.held: dict[str, tuple[Circuit, float]] = {}  # lease → (target, renewed at)
        self.taken = 0
        self.refused = 0
        self.failures = 0
        self._down_until = 0.0

    async def take(self, target: Circuit, now: float) -> bool:
        """May this call be ``target``'s trial? False: another replica's trial runs; the
        target is skipped here for :data:`RECHECK` seconds. True leaves ``target.trial``
        set (the call is its trial); a caller that then does not send must clear it."""
        target.trial = True  # reserved: no second call of this process asks meanwhile
        if self._down_until and time.monotonic() < self._down_until:
            return True
        name = f"trial:{target.kind}:{target.id}"
        try:
            async with asyncio.timeout(self.timeout):
                got = await self.backend.acquire(name, self.origin, self.ttl)
        except FAILURES:  # TimeoutError among them
            self.failures += 1
            self._down_until = time.monotonic() + RETRY_AFTER
            return True
        except BaseException:
            target.trial = False
            self.held[name] = (target, time.monotonic())  # perhaps taken: cut it short
            raise
        self._down_until = 0.0
        if got:
            self.taken += 1
            self.held[name] = (target, time.monotonic())
            return True
        target.trial = False
        self.refused += 1
        if target.until <= now:
            target.until = now + RECHECK  # local only: the owner's verdict replaces it
        return False

    async def tend(self) -> None:
        """Renew the leases of trials still running; cut those of finished trials to the
        settle time (the outcome is on its way to the others)."""
        now = time.monotonic()
        for name, (target, renewed) in list(self.held.items()):
            if not target.trial:
                del self.held[name]
                ttl = self.settle
            elif now - renewed >= self.ttl / 3:
                self.held[name] = (target, now)
                ttl = self.ttl
            else:
                continue
            async with asyncio.timeout(self.timeout):
                await self.backend.acquire(name, self.origin, ttl)

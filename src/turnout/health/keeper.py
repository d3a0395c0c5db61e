"""The health keeper: probes every key on an interval, so bad keys are found before a client
request is spent on them and good-again keys come back without waiting out a long cooldown.

Each key is probed per model (the models its deployments serve), or once with one model when
its provider shares key status across models. Probes are spread with jitter so a fleet of keys
does not fire at once, run a few at a time, and each is bounded by a timeout. Outcomes go
straight onto the health board the router reads: ``invalid`` and ``no_quota`` keys are skipped
by the next request, a key that answers again is ``active`` at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from turnout.config.compile import DeploymentSpec
from turnout.config.schema import Cooldowns, HealthConfig
from turnout.errors import GatewayError, UpstreamTimeout
from turnout.health.board import HealthBoard
from turnout.health.breaker import INVALID, NO_QUOTA, RATE_LIMITED
from turnout.health.probe import probe_call
from turnout.health.targets import KeyHealth
from turnout.observability.logging import get_logger
from turnout.providers.base import Provider
from turnout.routing import classify as c
from turnout.routing.stream import aclose

OK = "ok"
_CONCURRENCY = 8
log = get_logger("turnout.health")


@dataclass(slots=True)
class ProbeTarget:
    key: KeyHealth
    provider: Provider
    classifier: c.Classifier
    model: str
    next_at: float = 0.0
    failures: int = 0  # probes in a row that did not prove the key works (backoff)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    key_id: str
    provider: str
    model: str
    outcome: str  # "ok" or a reason
    state: str  # the key's state after the probe
    latency: float


def probe_model(board: HealthBoard, provider: str, scope: str) -> str | None:
    """The model a key of ``provider`` in ``scope`` is probed with (None: cannot tell)."""
    spec = board.runtime.providers[provider]
    if spec.probe_model:
        return spec.probe_model
    if scope != "*":
        return scope
    for health in board.deployments.values():  # shared keys: any concrete model will do
        if health.provider == provider and health.model != "*":
            return health.model
    return None


class HealthKeeper:
    def __init__(
        self,
        board: HealthBoard,
        providers: Mapping[str, Provider],
        config: HealthConfig,
        cooldowns: Cooldowns,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.cooldowns = cooldowns
        self.clock = clock
        self.retarget(board, providers)

    def retarget(self, board: HealthBoard, providers: Mapping[str, Provider]) -> None:
        """Probe the keys of ``board`` (again after a reload swapped the board)."""
        self.board = board
        self.targets: list[ProbeTarget] = []
        self.skipped: list[str] = []  # pools that cannot be probed (no model to probe with)
        for (pname, scope), pool in board.pools.items():
            spec = board.runtime.providers[pname]
            if not spec.probe or pname not in providers:
                continue
            model = probe_model(board, pname, scope)
            if model is None:
                self.skipped.append(f"{pname}/{scope}")
                continue
            classifier = c.Classifier.for_provider(spec)
            for key in pool.keys:
                self.targets.append(ProbeTarget(key, providers[pname], classifier, model))

    async def probe(self, target: ProbeTarget) -> ProbeResult:
        provider, key = target.provider, target.key
        protocol: str = getattr(provider, "protocol", "openai")
        call = probe_call(protocol, target.model)
        spec = DeploymentSpec(key.provider, target.model, 0, 1.0)
        started = self.clock()
        after: float | None = None
        try:
            async with asyncio.timeout(self.config.timeout):
                reply = await provider.send(call, spec, key.secret)
                if reply.chunks is not None:
                    await aclose(reply.chunks)
        except TimeoutError:
            outcome = c.TIMEOUT
        except GatewayError as exc:
            if exc.status >= 500:
                outcome = c.TIMEOUT if isinstance(exc, UpstreamTimeout) else c.SERVER_ERROR
            else:
                outcome = c.BAD_REQUEST
        else:
            if reply.status < 400:
                outcome = OK
            else:
                outcome = target.classifier.classify(reply.status, reply.body)
                after = c.retry_after(reply.headers, self.cooldowns.max_retry_after)
        now = self.clock()
        self._apply(key, outcome, after, now)
        key.probed_at = time.time()
        key.probe_reason = outcome
        key.probe_latency = now - started
        target.failures = 0 if outcome == OK or outcome in c.CLIENT_REASONS else target.failures + 1
        key.changed = key.probed_at  # what others order this record by (turnout.shared)
        self.board.journal.dirty.add(key)
        return ProbeResult(key.id, key.provider, target.model, outcome, key.state, now - started)

    def _apply(self, key: KeyHealth, outcome: str, after: float | None, now: float) -> None:
        cd = self.cooldowns
        if outcome == OK or outcome in c.CLIENT_REASONS:
            key.reset(now)
        elif outcome == c.INVALID_KEY:
            key.mark(INVALID, outcome, now + cd.invalid_key, now)
        elif outcome == c.NO_QUOTA:
            key.mark(NO_QUOTA, outcome, now + cd.no_quota, now)
        elif outcome == c.RATE_LIMITED:
            key.mark(
                RATE_LIMITED, outcome, now + (cd.rate_limited if after is None else after), now
            )
        # Server errors and timeouts say nothing about the key: the breaker handles those.

    async def probe_all(self) -> list[ProbeResult]:
        limit = asyncio.Semaphore(_CONCURRENCY)

        async def one(target: ProbeTarget) -> ProbeResult:
            async with limit:
                return await self.probe(target)

        return list(await asyncio.gather(*(one(t) for t in self.targets)))

    def _interval(self, failures: int = 0) -> float:
        """The wait before a key's next probe: the interval with jitter, doubled for each
        probe in a row that failed (up to ``max_backoff``), so a dead key or a provider that
        is down is not probed at full rate for as long as it stays so."""
        jitter = self.config.jitter
        base: float = self.config.interval * 2.0 ** min(failures, 30)
        ceiling = max(self.config.max_backoff, self.config.interval)
        return min(base, ceiling) * random.uniform(1 - jitter, 1 + jitter)

    async def run(self) -> None:
        """Probe forever: each key soon after start, then every interval (with jitter)."""
        if not self.targets:
            return
        now = self.clock()
        first = min(self.config.interval, 2.0)
        for target in self.targets:
            target.next_at = now + random.uniform(0, first)
        limit = asyncio.Semaphore(_CONCURRENCY)
        running: set[asyncio.Task[None]] = set()

        async def one(target: ProbeTarget) -> None:
            async with limit:
                try:
                    result = await self.probe(target)
                except Exception:  # a bug in one probe must not stop the keeper
                    log.exception("probe failed", key=target.key.id, model=target.model)
                    return
            if target.failures:
                target.next_at = self.clock() + self._interval(target.failures)
            log.debug("probe", key=result.key_id, model=result.model, outcome=result.outcome)

        try:
            while True:
                now = self.clock()
                for target in self.targets:
                    if target.next_at <= now:
                        target.next_at = now + self._interval()
                        task = asyncio.get_running_loop().create_task(one(target))
                        running.add(task)
                        task.add_done_callback(running.discard)
                wake = min(t.next_at for t in self.targets)
                await asyncio.sleep(max(0.01, wake - self.clock()))
        finally:
            for task in running:
                task.cancel()

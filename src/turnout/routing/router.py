"""Route a call: order the model's healthy deployments, try them, fail over, keep score.

For each attempt the router picks a usable key from the deployment's pool, sends, and
classifies any failure into a reason (:mod:`turnout.routing.classify`) that decides the
next step: another key, a short backoff and retry, the next deployment, a fallback model, or
the client's own answer. Bounds keep a degraded provider from being stormed: attempts per
model, one deadline per request, and a retry budget (retries in flight at most a share of
requests in flight). A stream is committed once its first chunk has arrived: failures until
then still fail over transparently; after it, the API layer ends the stream with an error.

The request path only reads precompiled plans and adjusts counters on the health objects:
no locks, no I/O, and for a one-deployment, one-key model barely more than the send itself.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from turnout.config.compile import Runtime
from turnout.errors import (
    DeadlineExceeded,
    GatewayError,
    ModelNotFound,
    OperationUnsupported,
    UpstreamGaveUp,
    UpstreamTimeout,
)
from turnout.health.board import HealthBoard
from turnout.health.breaker import ACTIVE, INVALID, NO_QUOTA
from turnout.health.breaker import RATE_LIMITED as RATE_LIMITED_STATE
from turnout.health.targets import COOLING, KEYS, LIMITED, KeyHealth
from turnout.providers.base import Provider
from turnout.providers.keymask import MASKED, key_bytes, masked_headers
from turnout.routing import classify as c
from turnout.routing.admit import GO, NEXT_KEY, admit
from turnout.routing.deadline import Deadlines
from turnout.routing.failure import UNAVAILABLE, Failure, give_up
from turnout.routing.member import Member, pinned_first, pinned_key
from turnout.routing.plan import RoutePlan
from turnout.routing.stream import Committed, aclose
from turnout.types import Call, Reply

if TYPE_CHECKING:
    from turnout.auth.principal import Principal

DEADLINE = "deadline"  # recorded as the call's error; the watchdog raises it (deadline.py)
_NOT_TRIED = (COOLING, LIMITED, KEYS)
_PLAN_CACHE_MAX = 10_000


class Router:
    def __init__(
        self,
        runtime: Runtime,
        providers: Mapping[str, Provider],
        board: HealthBoard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.providers = providers
        self.board = board if board is not None else HealthBoard(runtime)
        self.clock = clock
        cfg = runtime.config.routing
        self.cooldowns = cfg.cooldowns
        self.overloaded_retries = cfg.overloaded_retries
        self.backoff_base, self.backoff_max = cfg.backoff.base, cfg.backoff.max
        self.budget_ratio = cfg.retry_budget.ratio
        self.budget_min = cfg.retry_budget.min_retries
        classifiers = {n: c.Classifier.for_provider(s) for n, s in runtime.providers.items()}
        self.plans = {
            r.name: RoutePlan(r, self.board, providers, classifiers) for r in runtime.routes()
        }
        self._by_model: dict[str, RoutePlan] = {n: self.plans[n] for n in runtime.models}
        self.active = 0  # requests being routed
        self.retrying = 0  # retry attempts in flight
        self.budget_refusals = 0
        self.deadlines = Deadlines()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop calls run on

    def resolve(self, model: str, principal: Principal | None = None) -> RoutePlan:
        """The plan serving ``model``; unknown, the 404 names the models ``principal`` (the
        caller's key) may use, as ``/v1/models`` does: a key limited to some models must not
        learn the others' names from a typo."""
        plan = self._by_model.get(model)
        if plan is not None:
            return plan
        route = self.runtime.resolve(model)
        if route is None:
            names = self.runtime.public_models()
            if principal is not None:
                names = [n for n in names if principal.allows(n)]
            available = ", ".join(names) or "none"
            raise ModelNotFound(
                f"The model '{model}' does not exist or is not served here. Available: {available}",
                param="model",
            )
        plan = self.plans[route.name]
        if len(self._by_model) < _PLAN_CACHE_MAX:
            self._by_model[model] = plan
        return plan

    async def __call__(self, call: Call) -> Reply:
        plan = self.resolve(call.model, call.principal)
        # The loop is asked for once: on Python 3.11 every asyncio.get_running_loop() (which
        # current_task() calls without one) asks the kernel for the process id.
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        if task is None:  # the first call, or one on another loop
            self._loop = asyncio.get_running_loop()
            task = asyncio.current_task(self._loop)
        assert task is not None
        deadline = time.monotonic() + plan.deadline
        self.deadlines.enter(task, deadline)
        self.active += 1
        try:
            result = await self._route(plan, call, call.model, deadline)
            if isinstance(result, Reply):
                return result
            return await self._fall_back(plan, call, result, deadline)
        except asyncio.CancelledError:
            if not self.deadlines.expired(task):
                raise
            task.uncancel()
            call.error = DEADLINE
            raise DeadlineExceeded(
                f"No deployment answered within the request deadline of {plan.deadline:g} s "
                f"({call.attempts} attempt(s))"
            ) from None
        finally:
            self.deadlines.leave(task)
            self.active -= 1

    async def _fall_back(
        self, plan: RoutePlan, call: Call, failure: Failure, deadline: float
    ) -> Reply:
        if failure.reason == c.CONTEXT_LENGTH:
            names = plan.context_fallbacks
        elif failure.reason in c.CLIENT_REASONS:
            names = ()
        else:
            names = plan.fallbacks
        principal = call.principal
        for name in names:
            if principal is not None and not principal.allows(name):
                continue  # a key's models bound its fallbacks too: no way round the list
            result = await self._route(self.resolve(name), call, name, deadline)
            if isinstance(result, Reply):
                call.fallback = name
                return result
            # An answer from an attempt says more than "nothing was available".
            if failure.reason in _NOT_TRIED or result.reason not in _NOT_TRIED:
                failure = result
            if result.reason in c.CLIENT_REASONS:
                break
        return give_up(call, failure, self.cooldowns.rate_limited)

    async def _route(
        self, plan: RoutePlan, call: Call, requested: str, deadline: float
    ) -> Reply | Failure:
        now = self.clock()
        views = plan.views
        if views is None:
            members, candidates = plan.members, plan.single
        else:  # a wildcard deployment: each model name has a health record of its own
            view = views.get(requested)
            members, candidates = view.members, view.single
        if candidates is None or not candidates[0].health.available(now):
            candidates = [m for m in members if m.health.available(now)]
            if not candidates:
                return self._unavailable(members, now)
            if len(candidates) > 1:
                if plan.prefetch:
                    await plan.strategy.prefetch(call, self)
                candidates = plan.strategy.order(candidates, call)
                if call.pin is not None:
                    candidates = pinned_first(candidates, call, requested)
        attempts_left = plan.max_attempts
        trials = self.board.trials  # half-open trials shared by replicas (or None)
        last: Failure | None = None
        final = candidates[-1]
        for member in candidates:
            tried: list[KeyHealth] | None = None  # keys that failed here (allocated on need)
            overloads = self.overloaded_retries
            health = member.health
            while attempts_left:
                now = self.clock()
                # The order was computed before earlier attempts: re-check after a failure.
                if last is not None and not health.available(now):
                    break
                key = None
                if call.pin is not None and tried is None:
                    key = pinned_key(health, call.pin[1], now)
                if key is None:
                    key = health.pool.pick(now, tried)
                if key is None:
                    break
                if call.attempts and self.retrying >= max(
                    self.budget_min, self.budget_ratio * self.active
                ):
                    # A retry storm in the making: stop here, and tell the SDK not to retry
                    # either (it would multiply the load on a degraded provider).
                    self.budget_refusals += 1
                    refused = last or self._unavailable(members, now)
                    refused.terminal = True
                    return refused
                if (
                    health.slots is not None
                    or health.gate is not None
                    or (trials is not None and (health.state != ACTIVE or key.state != ACTIVE))
                ):
                    # Shared with the other replicas: slots, rpm/tpm, half-open trials.
                    verdict = await admit(health, key, call, now, trials)
                    if verdict is NEXT_KEY:
                        tried = [key] if tried is None else [*tried, key]
                        continue
                    if verdict is not GO:
                        break
                attempts_left -= 1
                result = await self._attempt(plan, member, key, call, requested, now)
                if isinstance(result, Reply):
                    return result
                reason = result.reason
                if reason == c.UNSERVED:  # not an attempt: the next deployment, if any
                    attempts_left += 1
                    if last is None or last.reason == c.UNSERVED:
                        last = result
                    break
                last = result
                if reason in c.CLIENT_REASONS:
                    return result
                if reason in c.KEY_REASONS:
                    tried = [key] if tried is None else [*tried, key]
                    continue  # another key of this deployment, if it has one
                if reason == c.OVERLOADED and overloads:
                    overloads -= 1
                    n = self.overloaded_retries - overloads  # 1 for the first retry
                    delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**n))
                    if time.monotonic() + delay >= deadline:
                        return result
                    await asyncio.sleep(delay)
                    continue
                if member is not final:
                    break  # server error: the next deployment
                # The last deployment: a different key is still a different attempt.
                tried = [key] if tried is None else [*tried, key]
            if not attempts_left:
                break
        return last if last is not None else self._unavailable(members, self.clock())

    async def _attempt(
        self,
        plan: RoutePlan,
        member: Member,
        key: KeyHealth,
        call: Call,
        requested: str,
        started: float,
    ) -> Reply | Failure:
        health = member.health
        spec, label = member.target(requested, call.model)
        call.deployment = label
        call.attempts += 1
        retry = call.attempts > 1
        if retry:
            self.retrying += 1
        if health.rpm is not None:
            health.rpm.add(started, 1)
        if health.tpm is not None:
            health.tpm.add(started, len(call.body) // 4 + 1)
        health.begin()
        key.begin()
        health.inflight += 1
        reply: Reply | None = None
        first: bytes | None = None
        try:
            reply = await member.provider.send(call, spec, key.secret)
            if reply.chunks is not None and reply.status < 400:
                first = await anext(reply.chunks, None)
        except TimeoutError:  # a provider leaked a raw timeout: still a timeout
            self._failed(member, key, c.TIMEOUT, None, started)
            return Failure(c.TIMEOUT, error=UpstreamTimeout("upstream did not answer in time"))
        except GatewayError as exc:
            if exc.status < 500:  # the request itself cannot be sent (e.g. translation)
                self._release(member, key)
                if isinstance(exc, OperationUnsupported):  # here; another deployment may
                    call.attempts -= 1  # nothing was sent
                    return Failure(c.UNSERVED, error=exc)
                raise
            reason = c.TIMEOUT if isinstance(exc, UpstreamTimeout) else c.SERVER_ERROR
            self._failed(member, key, reason, None, started)
            return Failure(reason, error=exc)
        except BaseException:
            self._release(member, key)
            if reply is not None and reply.chunks is not None:
                await aclose(reply.chunks)
            raise
        finally:
            if retry:
                self.retrying -= 1
        status = reply.status
        # The key this attempt was sent with, masked in whatever the upstream answered
        # (keymask): one search over the header values joined, one over a whole body.
        raw = key_bytes(key.secret)
        if raw is not None:
            reply.headers = masked_headers(reply.headers, raw)
            body = reply.body
            if body.find(raw) >= 0:  # find: a third cheaper than ``in`` (no buffer export)
                reply.body = body.replace(raw, MASKED)
        if status >= 400:
            reason = member.classifier.classify(status, reply.body, member.model is not None)
            after = None
            if reason == c.RATE_LIMITED:
                after = c.retry_after(reply.headers, self.cooldowns.max_retry_after)
            self._failed(member, key, reason, after, started)
            return Failure(reason, reply=reply, retry_after=after)
        if reply.chunks is not None and first is None:
            self._failed(member, key, c.SERVER_ERROR, None, started)
            return Failure(c.SERVER_ERROR, error=UpstreamGaveUp("upstream stream was empty"))
        now = self.clock()
        call.answered_key = key.fingerprint
        health.succeed(now)
        key.succeed(now)
        health.observe_latency(now - started)
        if plan.feedback:
            plan.strategy.answered(call, member)
        if reply.chunks is None:
            health.leave()
        else:
            assert first is not None
            reply.chunks = Committed(first, reply.chunks, health, self.clock, raw)
        return reply

    def _release(self, member: Member, key: KeyHealth) -> None:
        member.health.leave()
        member.health.abandon()
        key.abandon()

    def _failed(
        self, member: Member, key: KeyHealth, reason: str, after: float | None, started: float
    ) -> None:
        """Update health for a failed attempt according to its reason."""
        health = member.health
        health.leave()
        now = self.clock()
        if reason in c.BREAKER_REASONS:
            if reason == c.TIMEOUT:  # so the latency strategy learns about slow deployments
                health.observe_latency(now - started)
            health.fail(now, reason)
            if len(health.pool.keys) > 1:
                key.fail(now, reason)
            else:
                key.abandon()
            return
        if reason in c.CLIENT_REASONS:
            # The caller's own fault: no verdict on the deployment or the key either way. Not
            # a success: a client sending bad requests in a loop would otherwise pad the
            # failure-rate window, reset the failure streak and close a half-open breaker.
            health.abandon()
            key.abandon()
            return
        # The deployment answered: it is up, whatever the answer says about the key.
        health.succeed(now)
        cd = self.cooldowns
        if reason == c.RATE_LIMITED:
            wait = after if after is not None else cd.rate_limited
            key.mark(RATE_LIMITED_STATE, reason, now + wait, now)
        elif reason == c.INVALID_KEY:
            key.mark(INVALID, reason, now + cd.invalid_key, now)
        elif reason == c.NO_QUOTA:
            key.mark(NO_QUOTA, reason, now + cd.no_quota, now)
        else:
            key.succeed(now)

    def _unavailable(self, members: tuple[Member, ...], now: float) -> Failure:
        kinds = set()
        wait = float("inf")
        for member in members:
            kind, seconds = member.health.blocked(now)
            kinds.add(kind)
            wait = min(wait, seconds)
        wait = max(1.0, wait if wait != float("inf") else 1.0)
        reason = kinds.pop() if len(kinds) == 1 else UNAVAILABLE
        return Failure(reason, retry_after=wait)

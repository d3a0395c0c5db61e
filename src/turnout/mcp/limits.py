"""``tool_rpm``: tool calls per minute per key and per team, counted by the gateway's limiter.

The same limiter as the keys' model limits (:mod:`turnout.limits`: ``limits.backend``), so
with ``backend: redis`` every replica and worker counts against one shared window, and during
a Redis outage ``limits.on_redis_error`` applies as it does to model calls. Tool calls have
counters of their own (scopes ``mcp:k:<key>``, ``mcp:t:<team>``): a key's tool calls never
use up its model requests. Each distinct (caller, limits) pair is one :class:`Plan`, built
once (a backend keeps what it derives from a plan, e.g. its Redis key names, on the plan).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.limits.memory import MemoryLimiter
from turnout.limits.plan import Plan, Rule, Ticket

_MAX_PLANS = 10_000
Limits = list[tuple[str, int]]  # (scope "k:<key>" or "t:<team>", calls per minute)


class ToolLimiter:
    def __init__(self, limiter: Callable[[], Any] | None = None) -> None:
        self._limiter = limiter or (lambda: None)
        self._own = MemoryLimiter()  # only when the gateway has no limiter of its own
        self._plans: dict[tuple[str, tuple[tuple[str, int], ...]], Plan] = {}

    def plan(self, limits: Limits, tag: str) -> Plan:
        key = (tag, tuple(limits))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            rules = tuple(
                Rule(f"mcp:{scope}", _who(scope), rpm=rpm, tag=tag) for scope, rpm in limits
            )
            plan = self._plans[key] = Plan(rules)
        return plan

    async def admit(self, limits: Limits, tag: str) -> str | None:
        """None if the call may go; otherwise why not. Counts it only when admitted.
        ``tag`` keeps a caller's counters on one Redis Cluster slot (its team, else its key)."""
        if not limits:
            return None
        limiter = self._limiter() or self._own
        ticket = Ticket(self.plan(limits, tag))
        verdict = limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)
        limiter.finish(ticket)  # nothing held: a rate only
        if verdict.ok:
            return None
        rule = verdict.rule
        if not isinstance(rule, Rule):
            return "Tool call rate limits cannot be checked right now; retry shortly."
        return f"Tool call rate limit of this {rule.label} reached ({rule.rpm} per minute)."


def _who(scope: str) -> str:
    return "key" if scope.startswith("k:") else "team"

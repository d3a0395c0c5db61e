"""Who may call an agent, how often, and how many messages one task may take.

- **Access**: an agent's ``keys`` and ``teams`` lists (either admits; both empty: any key),
  and the key's own allow-list: its and its team's ``models`` globs, where an agent is
  ``a2a/{name}``. The master key may call every agent; an open gateway lets everyone.
- **Rates**: ``agent_rpm`` per key and ``team_rpm`` per team, counted by the gateway's own
  limiter (memory, or Redis when ``limits.backend: redis``, so replicas share the count),
  together with the key's and team's own request limits.
- **Iteration budget**: ``max_messages_per_task`` messages per task, so that two agents that
  keep answering each other stop. Counted in Redis when the limits are (shared by replicas),
  else per process in a bounded table (oldest tasks are forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from turnout.a2a.config import AgentConfig
from turnout.a2a.jsonrpc import BudgetSpent
from turnout.auth.principal import Principal
from turnout.errors import PermissionDenied
from turnout.limits.plan import Plan, Rule, Ticket
from turnout.limits.step import refusal
from turnout.observability.logging import get_logger

MAX_TASKS = 100_000
log = get_logger("turnout.a2a")


def may_call(principal: Principal | None, name: str, cfg: AgentConfig) -> bool:
    """Whether this caller may use the agent (``None``: authentication is off): the agent's
    own lists admit it, and so do the key's and its team's ``models`` globs, in which an
    agent is ``a2a/{name}`` (a key limited to ``gpt-*`` calls no agent)."""
    if principal is None or principal.id == "master":
        return True
    if not principal.allows(f"a2a/{name}"):
        return False
    if not cfg.keys and not cfg.teams:
        return True
    return principal.id in cfg.keys or (principal.team is not None and principal.team in cfg.teams)


def check_access(principal: Principal | None, name: str, cfg: AgentConfig) -> None:
    if not may_call(principal, name, cfg):
        raise PermissionDenied(f"This API key may not call the agent '{name}'.")


def plan_for(principal: Principal | None, name: str, cfg: AgentConfig) -> Plan | None:
    """The request limits one call counts against: the key's and team's own request limits
    and the agent's per-key and per-team rates. None: nothing to count."""
    if principal is None or principal.id == "master":
        return None
    tag = f"t:{principal.team}" if principal.team else f"k:{principal.id}"
    rules = [Rule(r.scope, r.label, r.rpm, None, r.parallel, r.tag) for r in principal.rules]
    if cfg.agent_rpm is not None:
        rules.append(
            Rule(
                f"a:{name}:k:{principal.id}",
                f"key {principal.id} on agent {name}",
                cfg.agent_rpm,
                tag=tag,
            )
        )
    if cfg.team_rpm is not None and principal.team:
        rules.append(
            Rule(
                f"a:{name}:t:{principal.team}",
                f"team {principal.team} on agent {name}",
                cfg.team_rpm,
                tag=tag,
            )
        )
    rules = [r for r in rules if r.rpm is not None or r.parallel is not None]
    return Plan(tuple(rules)) if rules else None


async def admit(limiter: Any, plan: Plan) -> Ticket:
    """Count the call, or raise the gateway's usual 429 (or 503 when the limiter is down)."""
    ticket = Ticket(plan)
    verdict = limiter.admit_now(ticket) if limiter.sync else await limiter.admit(ticket)
    if not verdict.ok:
        raise refusal(verdict)
    return ticket


class TaskBudget:
    """Messages per (agent, task), bounded; the oldest task is forgotten past ``MAX_TASKS``.

    In-process by default. Given the limiter's Redis client (``limits.backend: redis``), the
    count lives in Redis, shared by every replica, one key per task that expires a day after
    its last message; while Redis cannot be reached, this process counts alone (and says so
    once), as the limiter itself does under ``on_redis_error: allow``.
    """

    def __init__(
        self, capacity: int = MAX_TASKS, redis: Any = None, prefix: str = "turnout:"
    ) -> None:
        self.capacity = capacity
        self.counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.redis = redis
        self.prefix = prefix + "a2a:task:"
        self._warned = False

    async def spend(self, agent: str, task_id: str, limit: int) -> None:
        """Count one message to an existing task, or refuse it when the budget is spent."""
        used = None
        if self.redis is not None:
            used = await self._redis("spend", agent, task_id, limit)
        if used is None:
            key = (agent, task_id)
            used = self.counts.get(key, 0)
            if used < limit:
                self._set(key, used + 1)
        if used >= limit:
            raise BudgetSpent(
                f"Task {task_id[:64]} on agent '{agent}' has had its {limit} messages "
                "(max_messages_per_task); start a new task."
            )

    async def opened(self, agent: str, task_id: str) -> None:
        """A message that started a task counts as the task's first."""
        if self.redis is not None and await self._redis("open", agent, task_id, 0) is not None:
            return
        key = (agent, task_id)
        if key not in self.counts:
            self._set(key, 1)

    async def _redis(self, op: str, agent: str, task_id: str, limit: int) -> int | None:
        """The count before this message (``spend``), or None when Redis did not answer."""
        key = f"{self.prefix}{agent}:{task_id}"
        try:
            if op == "open":
                await self.redis.set(key, 1, nx=True, ex=TASK_TTL)
                return 0
            used = await self.redis.eval(_SPEND, 1, key, limit, TASK_TTL)
        except Exception as exc:  # redis-py's errors and OSError alike: count locally
            if not self._warned:
                self._warned = True
                log.warning("a2a task budget: redis unavailable, counting per process",
                            error=str(exc)[:200])  # fmt: skip
            return None
        self._warned = False
        return int(used)

    def _set(self, key: tuple[str, str], value: int) -> None:
        counts = self.counts
        counts[key] = value
        counts.move_to_end(key)
        while len(counts) > self.capacity:
            counts.popitem(last=False)


TASK_TTL = 86_400  # seconds a task's count is kept after its last message
# The count before this message; counted only when under the limit (atomic in Redis).
_SPEND = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], used + 1, 'EX', tonumber(ARGV[2]))
end
return used
"""


def message_task(params: dict[str, Any]) -> str | None:
    """The task a message continues (``params.message.taskId``, or ``task_id``: the agent's
    SDK reads both, so the task's message budget counts both), if any."""
    message = params.get("message")
    if not isinstance(message, dict):
        return None
    for field in ("taskId", "task_id"):
        task = message.get(field)
        if isinstance(task, str) and 0 < len(task) <= 256:
            return task
    return None


def push_urls(value: Any, inside: bool = False, depth: int = 0) -> list[Any]:
    """Every ``url`` inside a push-notification config of a request's params (both A2A
    versions nest it differently; any object under a key naming push notifications)."""
    found: list[Any] = []
    if depth > 8:
        return found
    if isinstance(value, dict):
        for k, v in value.items():
            if inside and k == "url":
                found.append(v)
            under = inside or (isinstance(k, str) and "push" in k.lower())
            found.extend(push_urls(v, under, depth + 1))
    elif isinstance(value, list):
        for v in value[:64]:
            found.extend(push_urls(v, inside, depth + 1))
    return found

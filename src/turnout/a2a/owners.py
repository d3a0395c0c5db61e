"""Which key a task or context belongs to: both are pinned to the key whose call first saw
them.

The gateway calls every agent with its own credentials, so an agent cannot tell one tenant's
tasks from another's: without this, any key allowed to call an agent could read
(``GetTask``), cancel, resubscribe to, continue, or set push notifications on another key's
task by naming its id. A task id seen in an answer to a key's call is that key's (the first
key wins); a request from a key that names a task another key holds, or one this gateway
never saw, is answered like an unknown task (A2A's ``-32001``) and never reaches the agent.
The master key and an open gateway (no keys) are not pinned.

A context (``contextId``) groups a conversation's tasks, and an agent continues the context a
message names (a new task in it, with the history the agent keeps for it): so a context id is
pinned the same way, from the answers that name it, and a message of a key naming a context
it does not hold (another key's, or one this gateway never saw) is refused with a JSON-RPC
"Invalid params" error, what an A2A server answers for a context it will not continue.

Kept per process in a bounded table, and in Redis as well when the limits are (so replicas
share it), one key per task that expires a day after the task was last seen. A task forgotten
by both (the bound, the expiry, a restart without Redis) is unknown: refused, not guessed.
When the table is full, the key holding the most entries loses its oldest: one key opening
tasks in a loop (before: the table's oldest went first, whoever held them) pushes out only its
own, never another tenant's running tasks, which would then be refused to their owner.
"""

from __future__ import annotations

import asyncio
from typing import Any

from turnout.a2a.governance import TASK_TTL
from turnout.a2a.jsonrpc import ContextNotFound, Envelope, TaskNotFound
from turnout.auth.principal import Principal
from turnout.fairshare import Shares
from turnout.observability.logging import get_logger

MAX_TASKS = 100_000
log = get_logger("turnout.a2a")

# Where each method names its task: 1.0's push-notification methods say ``taskId`` (their
# ``id`` is the config's), every other task method ``id``; a message continues
# ``message.taskId``. Listing methods name none (their answers are filtered instead).
_TASK_FIELD: dict[str, str] = {
    "GetTask": "id",
    "CancelTask": "id",
    "SubscribeToTask": "id",
    "CreateTaskPushNotificationConfig": "taskId",
    "GetTaskPushNotificationConfig": "taskId",
    "ListTaskPushNotificationConfigs": "taskId",
    "DeleteTaskPushNotificationConfig": "taskId",
    "tasks/get": "id",
    "tasks/cancel": "id",
    "tasks/resubscribe": "id",
    "tasks/pushNotificationConfig/set": "taskId",
    "tasks/pushNotificationConfig/get": "id",
    "tasks/pushNotificationConfig/list": "id",
    "tasks/pushNotificationConfig/delete": "id",
}
LISTS = frozenset(("ListTasks", "tasks/list"))


def pinned(principal: Principal | None) -> str | None:
    """The owner a caller's tasks are pinned to; None when nothing is pinned."""
    if principal is None or principal.id == "master":
        return None
    return principal.id


# The spellings an agent's SDK reads a field by: its JSON name and its proto (or Python)
# name. Protobuf's JSON parser (1.0) and the 0.3 pydantic models accept both, so a request
# naming a task as ``task_id`` reaches the same task as ``taskId`` (before 2026-12-07 the
# gateway read only the JSON name, and another key's task was continued that way).
_SPELT: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "taskId": ("taskId", "task_id"),
    "contextId": ("contextId", "context_id"),
    "referenceTaskIds": ("referenceTaskIds", "reference_task_ids"),
}
MAX_REFERENCES = 64  # tasks one message may refer to; past it the message is refused


def named_tasks(env: Envelope) -> list[Any]:
    """Every value the request names a task with, in any spelling (any JSON type: a caller
    could send a number the agent reads as text): a message's task and the tasks it refers
    to (``referenceTaskIds``, which an agent may load and read), or the task a task method
    is about (``[None]`` when it names none: an unknown task)."""
    if env.kind == "message":
        message = env.params.get("message")
        if not isinstance(message, dict):
            return []
        found = [message[k] for k in _SPELT["taskId"] if k in message]
        for k in _SPELT["referenceTaskIds"]:
            refs = message.get(k)
            if isinstance(refs, list) and len(refs) <= MAX_REFERENCES:
                found.extend(refs)
            elif refs is not None:
                found.append(None)  # refused: not a list the gateway can check
        return found
    field = _TASK_FIELD.get(env.method)
    if field is None:
        return []
    return [env.params[k] for k in _SPELT[field] if k in env.params] or [None]


def named_contexts(env: Envelope) -> list[Any]:
    """The contexts a message names (``message.contextId``, either spelling; JSON null
    names none)."""
    if env.kind != "message":
        return []
    message = env.params.get("message")
    if not isinstance(message, dict):
        return []
    return [message[k] for k in _SPELT["contextId"] if message.get(k) is not None]


# What is pinned: a task, or a context. Redis keys: ``a2a:owner:`` (tasks, as before) and
# ``a2a:context:``, each ``<agent>:<id>``.
TASK, CONTEXT = "owner", "context"


class TaskOwners:
    """(agent, task or context, id) → the key id that holds it; bounded (tasks and contexts
    share the bound), the key holding the most losing its oldest past it."""

    def __init__(
        self, capacity: int = MAX_TASKS, redis: Any = None, prefix: str = "turnout:"
    ) -> None:
        self.capacity = capacity
        self.owners: dict[tuple[str, str, str], str] = {}
        # The same entries by key, oldest first: whom the bound takes from (_remember).
        self.held: Shares[tuple[str, str, str]] = Shares()
        self.redis = redis
        self.prefix = prefix + "a2a:"
        self._writes: set[asyncio.Task[None]] = set()
        self._warned = False

    def claim(self, agent: str, task_id: str, owner: str, what: str = TASK) -> None:
        """``owner``'s call saw the task (or context): it is theirs unless another key
        already holds it (here; in Redis the first writer wins too)."""
        key = (agent, what, task_id)
        owners = self.owners
        if (held := owners.get(key)) is not None:
            self.held.touch(key, held)
            return
        self._remember(key, owner)
        if self.redis is not None:
            task = asyncio.get_running_loop().create_task(self._store(key, owner))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def owner(self, agent: str, task_id: str, what: str = TASK) -> str | None:
        key = (agent, what, task_id)
        found = self.owners.get(key)
        if found is not None or self.redis is None:
            return found
        try:
            raw = await self.redis.get(self._redis_key(key))
        except Exception as exc:  # redis-py's errors and OSError alike: this process only
            self._warn(exc)
            return None
        if raw is None:
            return None
        found = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._remember(key, found)
        return found

    def _remember(self, key: tuple[str, str, str], owner: str) -> None:
        """Keep ``key`` for ``owner``; past the bound, drop the oldest entry of the key that
        holds the most (:mod:`turnout.fairshare`, O(1) in the common case)."""
        self.owners[key] = owner
        self.held.add(key, owner)
        while len(self.owners) > self.capacity:
            oldest, who = self.held.victim()
            self.held.remove(oldest, who)
            del self.owners[oldest]

    async def check(self, agent: str, env: Envelope, caller: str | None) -> None:
        """Refuse a request of ``caller`` that names a task it does not hold, as the agent
        refuses an unknown task."""
        if caller is None:
            return
        for task in named_tasks(env):
            if not isinstance(task, str) or not 0 < len(task) <= 256:
                raise TaskNotFound()
            if await self.owner(agent, task) != caller:
                raise TaskNotFound()

    async def check_context(self, agent: str, env: Envelope, caller: str | None) -> None:
        """Refuse a message of ``caller`` that names a context it does not hold: the agent
        would continue it (another key's conversation) whatever the key."""
        if caller is None:
            return
        for context in named_contexts(env):
            if not isinstance(context, str) or not 0 < len(context) <= 256:
                raise ContextNotFound()
            if await self.owner(agent, context, CONTEXT) != caller:
                raise ContextNotFound()

    async def only_own(self, agent: str, result: Any, caller: str) -> Any:
        """A task list with only the caller's tasks (1.0 ``{"tasks": [...]}``, or a bare
        list)."""
        if isinstance(result, dict) and isinstance(result.get("tasks"), list):
            kept = await self._own(agent, result["tasks"], caller)
            out = {**result, "tasks": kept}
            if "totalSize" in out:
                out["totalSize"] = len(kept)
            return out
        if isinstance(result, list):
            return await self._own(agent, result, caller)
        return {"tasks": []}

    async def _own(self, agent: str, tasks: list[Any], caller: str) -> list[Any]:
        kept = []
        for task in tasks:
            tid = task.get("id") if isinstance(task, dict) else None
            if isinstance(tid, str) and await self.owner(agent, tid) == caller:
                kept.append(task)
        return kept

    def _redis_key(self, key: tuple[str, str, str]) -> str:
        agent, what, ident = key
        return f"{self.prefix}{what}:{agent}:{ident}"

    async def _store(self, key: tuple[str, str, str], owner: str) -> None:
        try:
            await self.redis.set(self._redis_key(key), owner, nx=True, ex=TASK_TTL)
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("a2a task owners: redis unavailable, kept per process",
                        error=str(exc)[:200])  # fmt: skip

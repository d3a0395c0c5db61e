"""A task's state changes as request-log rows of their own, bounded per call.

The gateway sees a task's state in every answer that carries the task: a stream's task and
status-update events, and the JSON answers of ``SendMessage``, ``GetTask`` and ``CancelTask``.
A state is a *change* when it differs from the last one this process saw for that task (in
this call or an earlier one), so a poll that finds the task where it was leaves nothing,
and a stream's repeated ``working`` updates leave one row. Each change is one row (operation
``task.state``, column ``task_state``: :func:`turnout.storage.sink.task_state_row`), handed
to the request log's writer as it happens, so a long task's progress shows while it runs.

Bounded twice: the last states are remembered for ``MAX_TASKS`` tasks (the oldest are
forgotten: a forgotten task's next state is written again), and one call writes at most the
agent's ``max_state_rows`` rows. Past the bound, changes are counted, not written, except the
last one, written when the call ends with ``error: task_states_dropped:<n>`` (the changes not
written before it), so an agent streaming endless state flips costs a fixed number of rows and
the log still ends on the state the task was left in.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from turnout.observability.logging import get_logger
from turnout.storage.sink import task_state_row

if TYPE_CHECKING:
    from turnout.storage.writer import LogWriter
    from turnout.types import Call

MAX_TASKS = 10_000
DROPPED = "task_states_dropped"
log = get_logger("turnout.a2a")


class TaskStates:
    """The last state seen of each (agent, task), bounded; shared by every call of a process.

    Per process: replicas each remember their own, so a poll answered by another replica may
    write a change again (documented in docs/a2a.md)."""

    def __init__(self, capacity: int = MAX_TASKS) -> None:
        self.capacity = capacity
        self.last: OrderedDict[tuple[str, str], str] = OrderedDict()

    def changed(self, agent: str, task_id: str, state: str) -> bool:
        """Remember ``state`` as the task's; whether it differs from the one before."""
        key = (agent, task_id)
        last = self.last
        before = last.get(key)
        last[key] = state
        last.move_to_end(key)
        while len(last) > self.capacity:
            last.popitem(last=False)
        return before != state


class _Change(NamedTuple):
    task_id: str
    state: str
    ts: datetime
    latency: float
    size: int


class StateRows:
    """One call's state changes: written as they happen up to ``limit - 1``, the rest counted,
    the last of them written at :meth:`close`."""

    __slots__ = ("agent", "call", "dropped", "limit", "pending", "states", "writer", "written")

    def __init__(
        self, agent: str, call: Call, states: TaskStates, writer: LogWriter | None, limit: int
    ) -> None:
        self.agent = agent
        self.call = call
        self.states = states
        self.writer = writer
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self.pending: _Change | None = None

    def seen(self, task_id: str, state: str, size: int) -> bool:
        """A state seen in an answer or event of ``size`` bytes; whether it was a change."""
        if not self.states.changed(self.agent, task_id, state):
            return False
        call = self.call
        change = _Change(
            task_id, state, datetime.now(UTC), time.perf_counter() - call.started, size
        )
        if self.written + 1 < self.limit:
            self._write(change, None)
            self._line(change)
        elif self.limit > 0:
            if self.pending is not None:
                self.dropped += 1
            self.pending = change
        else:
            self.dropped += 1
        return True

    def close(self) -> None:
        """Write the change held back, if any (the last one the call saw)."""
        change, self.pending = self.pending, None
        if change is not None:
            self._write(change, f"{DROPPED}:{self.dropped}" if self.dropped else None)
            self._line(change)
        if self.dropped:
            log.warning(
                "a2a task states not written",
                agent=self.agent,
                task_id=change.task_id if change is not None else None,
                dropped=self.dropped,
                max_state_rows=self.limit,
                request_id=self.call.request_id,
            )

    def _line(self, change: _Change) -> None:
        call = self.call
        log.info(
            "a2a task",
            agent=self.agent,
            task_id=change.task_id,
            state=change.state,
            key_id=call.key_id,
            team=call.team,
            request_id=call.request_id,
        )

    def _write(self, change: _Change, error: str | None) -> None:
        self.written += 1
        if self.writer is None:  # no storage: the log line is all there is
            return
        row = task_state_row(
            self.call, change.task_id, change.state, change.ts, change.latency, change.size, error
        )
        self.writer.put_many([row])

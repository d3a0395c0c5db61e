"""Request deadlines without a timer per request.

``asyncio.timeout`` schedules and cancels a loop timer for every use: about 6 µs, several
times the cost of the rest of a routing decision. A deadline of seconds does not need
microsecond precision, so one watchdog task wakes every ``tick`` while requests are being
routed, and cancels the task of any request past its deadline; the router turns that
cancellation into a 504. Registering a request is a dict insert and a dict pop.

A request is registered only while it is being routed (attempts and fallbacks); once its
answer (or the first chunk of its stream) is back it leaves, so a long stream is never cut
by the deadline. While registered, its task is always suspended inside the router, which is
where the cancellation arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

TICK = 0.02


class Deadlines:
    __slots__ = ("_due", "_expired", "_watch", "tick")

    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self._due: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._watch: asyncio.Task[None] | None = None

    def enter(self, task: asyncio.Task[object], deadline: float) -> None:
        self._due[task] = deadline
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._run())

    def leave(self, task: asyncio.Task[object]) -> None:
        self._due.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Was ``task`` cancelled by this watchdog (and not yet told)?"""
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    async def _run(self) -> None:
        try:
            while self._due:
                await asyncio.sleep(self.tick)
                now = time.monotonic()
                late = [task for task, deadline in self._due.items() if deadline <= now]
                for task in late:
                    del self._due[task]
                    self._expired.add(task)
                    task.cancel()
        finally:
            self._watch = None  # the next request starts a new watchdog

    async def aclose(self) -> None:
        watch = self._watch
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

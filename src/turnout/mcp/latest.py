"""Relaying an upstream's notifications to a caller that may read slowly, or not at all.

The MCP SDK's client starts one task for every notification it receives (a progress
notification, a resource update), and the gateway's relay in that task waits until the
caller's stream takes it. Before (2026-12-08), a caller that called a tool reporting progress
and stopped reading its answer left one waiting task per notification: three such calls of
``count(300000)`` took the gateway from 127 MB to 1.1 GB in a minute, growing as fast as the
upstream reported. Progress and "this resource changed" are states, not a log: a newer one
makes the older ones moot. So each relay keeps at most one send in flight and a few values
waiting (a newer one pushes out the oldest): a caller that reads gets every notification, one
that lags gets the newest when it reads, and what the upstream sends meanwhile costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """Sends a series of values to one consumer, one send at a time: at most ``keep`` wait
    their turn, and a newer one pushes out the oldest waiting."""

    __slots__ = ("_closed", "_send", "_task", "_waiting", "failed")

    def __init__(self, send: Callable[[T], Awaitable[object]], keep: int = 1) -> None:
        self._send = send
        self._waiting: deque[T] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None
        self.failed = False  # a send raised: the consumer is gone
        self._closed = False

    def offer(self, value: T) -> None:
        """Send ``value`` after those in flight or waiting (the oldest waiting goes if full)."""
        if self._closed:
            return
        self._waiting.append(value)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._waiting:
                try:
                    await self._send(self._waiting.popleft())
                except Exception:
                    self.failed = True
                    self._waiting.clear()
                    return
        finally:
            self._task = None

    async def close(self, within: float) -> None:
        """The relay is over: what waits is sent if the consumer takes it within ``within``
        seconds (a reader gets it before what follows), then sending stops."""
        self._closed = True
        task = self._task
        if task is None:
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), within)
        self._waiting.clear()
        task.cancel()

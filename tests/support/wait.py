"""Waiting for a condition with a deadline instead of sleeping a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or longer than needed
everywhere else (a slow one). These poll the condition until it holds or the deadline passes;
the deadline is a bound on a failure, never a wait on success.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def until(check: Callable[[], object], limit: float = 10.0, step: float = 0.02) -> float:
    """Poll ``check`` until it is truthy; the seconds it took. Fails after ``limit`` s."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < limit, f"not within {limit} s"
        time.sleep(step)
    return time.monotonic() - started


def found(find: Callable[[], T | None], limit: float = 10.0, step: float = 0.02) -> T:
    """Poll ``find`` until it returns something (truthy); that. Fails after ``limit`` s."""
    seen: list[T] = []

    def check() -> bool:
        value = find()
        if value:
            seen.append(value)
        return bool(value)

    until(check, limit, step)
    return seen[0]


async def until_async(
    check: Callable[[], Awaitable[object] | object], limit: float = 10.0, step: float = 0.01
) -> float:
    """:func:`until` inside an event loop: ``check`` may be a coroutine function, and the loop
    runs other tasks (the ones being waited for) between two polls."""
    started = time.monotonic()
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"not within {limit} s"
        await asyncio.sleep(step)

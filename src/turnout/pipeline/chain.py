"""Fold pipeline steps around a terminal handler.

A step is ``(call, next) -> reply``: it may act before calling ``next`` (auth, limits), may
answer without calling it at all (a cache hit short-circuits routing), and may act on the
reply on the way back (usage, cache store). Post-work therefore runs in reverse order, and
only for the steps that actually ran.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from turnout.types import Call, Handler, Reply

Step = Callable[[Call, Handler], Awaitable[Reply]]


def build_pipeline(steps: Sequence[Step], terminal: Handler) -> Handler:
    handler = terminal
    for step in reversed(steps):
        handler = partial(step, next=handler)  # type: ignore[call-arg]
    return handler

"""A key this process does not know yet: read the store's change feed once more before a 401.

Every process follows the key store by polling it every ``auth.refresh_interval`` (0.5 s), so
a key made through another replica's admin API, another ``--workers`` process or the
``turnout keys`` CLI was refused here for up to that long: an operator's script that creates a
key and uses it at once got an intermittent 401, by which process its call happened to reach.
Now a presented key found in no table makes the process read the change feed again, and only
then refuses it. Nothing of this runs for a key it knows (the request path's one dict look-up
is unchanged).

Unknown keys are also what a key-guessing client sends, so the reads are bounded whatever
their rate: every caller waiting at the same moment shares one read, a read starts at least
``gap`` seconds after the last one began (at most 20 a second by default), and a caller waits
at most ``patience`` seconds for its read before it gets the 401 it would have had.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

GAP = 0.05
PATIENCE = 2.0


class CatchUp:
    def __init__(
        self, read: Callable[[], Awaitable[object]], gap: float = GAP, patience: float = PATIENCE
    ) -> None:
        self._read = read  # one read of the change feed, serialised with the poll's
        self.gap = gap
        self.patience = patience
        self._began = -gap  # when the last read began (monotonic)
        # The read every caller arriving now can wait for: one that has not begun yet.
        self._next: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None  # the loop keeps tasks weakly
        self.reads = 0

    async def __call__(self) -> None:
        """Return once a read of the change feed that began after this call has ended (or
        failed, or taken longer than ``patience``)."""
        pending = self._next
        if pending is None:  # none scheduled that has not begun
            at = max(time.monotonic(), self._began + self.gap)
            loop = asyncio.get_running_loop()
            pending = self._next = loop.create_future()
            # The read runs on its own: a caller that leaves must not cancel the others' read.
            self._task = loop.create_task(self._run(at, pending))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.patience):
                await asyncio.shield(pending)

    async def _run(self, at: float, done: asyncio.Future[None]) -> None:
        try:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._began = time.monotonic()
            if self._next is done:
                self._next = None  # begun: later callers need a later read
            self.reads += 1
            with contextlib.suppress(Exception):  # the store down: the 401 stands, as before
                await self._read()
        finally:
            if self._next is done:  # cancelled before it began
                self._next = None
            if not done.done():
                done.set_result(None)

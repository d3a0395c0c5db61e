"""The gateway's own steps as plugins: ``capture``, ``auth``, ``limits`` and ``cache``.

Each is an ``around`` plugin (the middleware form of the contract, :mod:`turnout.plugins.base`)
whose work is done by its service: the capture writer, the key directory and limiter, the
cache. Naming one in ``plugins:`` moves it in the chain or switches it per model, team or
key; one that is not named keeps its default place (capture, auth and limits ahead of the
configured plugins, the cache behind them: :func:`turnout.plugins.stages.placed`). Their
settings stay in their own sections (``capture:``, ``limits:``, ``cache:``, the keys), so
their entries take none, and no time budget: they hold the whole rest of the call.

When the chain is assembled, an entry that is on for every call puts its service's step into
the chain as it is (the same cost as before they were plugins); a service that is off
(``auth`` with no keys, ``cache`` with nothing cacheable) puts nothing in.
"""

from __future__ import annotations

from typing import ClassVar

from turnout.plugins.base import Plugin, Run
from turnout.types import Call, Handler, Reply

NAMES = ("capture", "auth", "limits", "cache")


class BuiltinStep(Plugin):
    """A service's pipeline step under the plugin contract."""

    step: ClassVar[str] = ""  # the key in Host.steps

    async def around(self, call: Call, next: Handler, run: Run) -> Reply:
        step = self.host.steps.get(self.step)
        if step is None:  # the service is off: nothing to do
            return await next(call)
        result: Reply = await step(call, next)
        return result


class Capture(BuiltinStep):
    """Writes whole requests and answers to the capture file (docs/observability.md)."""

    name = step = "capture"


class Auth(BuiltinStep):
    """Finds the caller's gateway key and checks it may use the model
    (docs/keys-and-limits.md). It cannot be switched off: an open gateway has no keys."""

    name = step = "auth"


class Limits(BuiltinStep):
    """Admits a call under its key's and team's rate limits and budgets."""

    name = step = "limits"


class Cache(BuiltinStep):
    """Answers from, and stores into, the response cache (docs/caching.md)."""

    name = step = "cache"

"""The gateway's plugins: built from the configuration, handed the router, put in the chain.

:class:`Plugins` owns the compiled :class:`PluginSet` and the one pipeline step that runs it.
A reload builds a new set from the new configuration and swaps it in whole; the chain is
re-assembled (``on_change``) only when the pipeline turns from empty to non-empty or back, so
a gateway without plugins (or whose entries are all switched off) never carries the step.
"""

from __future__ import annotations

from collections.abc import Callable

from turnout.config.compile import Runtime
from turnout.pipeline import Step
from turnout.plugins.base import Host
from turnout.plugins.config import PluginSet
from turnout.plugins.runner import PluginStep
from turnout.types import Handler


class Plugins:
    def __init__(self, runtime: Runtime) -> None:
        self.host = Host(runtime=runtime)
        self.set = PluginSet(runtime.config.plugins, self.host)
        self.step = PluginStep(self.set)
        self.on_change: Callable[[], None] | None = None

    def steps(self) -> list[Step]:
        return [self.step] if self.set.active else []

    def start(self, router: Handler) -> None:
        """Judges ask their models through the router (after the plugins: a judge's own
        request is not judged again)."""
        from turnout.plugins.judge import asker

        self.host.ask = asker(router)

    def reload(self, runtime: Runtime) -> None:
        """Apply a new configuration's ``plugins:`` (settings validated by then)."""
        was = self.set.active
        self.host.runtime = runtime
        self.set = self.step.plugins = PluginSet(runtime.config.plugins, self.host)
        if was != self.set.active and self.on_change is not None:
            self.on_change()

"""The gateway's plugins: built from the configuration, handed the router, put in the chain.

:class:`Plugins` owns the compiled :class:`Pipeline`: the configured plugins and the gateway's
own steps (capture, auth, limits, cache) in their order. The app assembles the chain from it
at start, after every reload (which builds a new pipeline from the new configuration) and
whenever a service switches on or off; a gateway without ``plugins:`` gets exactly the chain
of its services' steps.
"""

from __future__ import annotations

from collections.abc import Mapping

from turnout.config.compile import Runtime
from turnout.pipeline import Step
from turnout.plugins.base import Host
from turnout.plugins.stages import Pipeline
from turnout.types import Handler


class Plugins:
    def __init__(self, runtime: Runtime) -> None:
        self.host = Host(runtime=runtime)
        self.pipeline = Pipeline(runtime.config.plugins, self.host)

    def steps(
        self,
        services: Mapping[str, Step | None] | None = None,
        lead: Mapping[str, Step] | None = None,
    ) -> list[Step]:
        """The chain's steps, given the services' current steps by built-in name (a service
        that is off: None or absent)."""
        self.host.steps = dict(services or {})
        return self.pipeline.steps(lead)

    def start(self, router: Handler) -> None:
        """Judges ask their models through the router (after the plugins: a judge's own
        request is not judged again)."""
        from turnout.plugins.judge import asker

        self.host.ask = asker(router)

    def reload(self, runtime: Runtime) -> None:
        """Take a new configuration's ``plugins:`` (settings validated by then); the caller
        assembles the chain again."""
        self.host.runtime = runtime
        self.pipeline = Pipeline(runtime.config.plugins, self.host)

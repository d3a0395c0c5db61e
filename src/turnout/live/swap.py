"""One generation of a running gateway: what a compiled config builds, and how a new one
takes over from the serving one.

Everything a config decides on the request path hangs off the pipeline's last handler, the
router: its plans, their members, providers and health objects. A reload therefore builds a
complete new router beside the serving one (providers, health board, strategies, and with them
every check a config can fail at build time), and only then swaps it in by reassembling the
pipeline: one assignment of ``state.handler`` (and of ``state.handlers``, the Responses
API's). A request reads its handler once when it starts, so requests in flight finish on the
router (the config) they started with, and new ones take the new one; nothing is cancelled,
closed or reset.

State carries over where the thing it describes did not change: the health board keeps every
key and deployment object still configured (breakers, cooldowns, key states, latency, rate
windows, see :class:`~turnout.health.board.HealthBoard`), each model's new strategy takes over
its predecessor's state (sticky pins, :meth:`~turnout.routing.strategies.base.Strategy.carry`),
and unchanged providers are reused. Gateway keys, rate-limit windows and budget spend belong to
the auth service, which a reload does not rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from turnout.config.compile import Runtime
from turnout.health.board import HealthBoard
from turnout.providers.base import Provider
from turnout.providers.registry import build_provider
from turnout.routing.router import Router
from turnout.upstream.base import UpstreamClient

# Sections a reload applies; a change anywhere else is reported as needing a restart.
LIVE_SECTIONS = frozenset(
    {"providers", "models", "routing", "pricing", "plugins", "agents", "mcp_servers"}
)


@dataclass(slots=True)
class Generation:
    runtime: Runtime
    providers: dict[str, Provider]
    board: HealthBoard
    router: Router


def build_generation(
    runtime: Runtime,
    client: UpstreamClient,
    wrap: Callable[[Mapping[str, Provider]], Mapping[str, Provider]],
    previous: Generation | None,
    board: HealthBoard | None = None,
) -> Generation:
    """Build everything ``runtime`` routes with, carrying ``previous``'s state over. Raises
    whatever a provider or a strategy refuses; nothing serving is touched until it returns."""
    providers: dict[str, Provider] = {}
    for name, spec in runtime.providers.items():
        old = previous.providers.get(name) if previous is not None else None
        if old is not None and previous is not None and previous.runtime.providers[name] == spec:
            providers[name] = old
        else:
            providers[name] = build_provider(spec, client)
    if board is None:
        board = HealthBoard(runtime, previous.board if previous is not None else None)
    router = Router(runtime, wrap(providers), board)
    if previous is not None:
        for name, plan in router.plans.items():
            old_plan = previous.router.plans.get(name)
            if old_plan is not None:
                plan.strategy.carry(old_plan.strategy)
    return Generation(runtime, providers, board, router)


def restart_sections(old: Runtime, new: Runtime) -> list[str]:
    """Top-level sections that differ but are only read at start (server, storage, auth…)."""
    a, b = old.config, new.config
    names = type(a).model_fields
    return sorted(n for n in names if n not in LIVE_SECTIONS and getattr(a, n) != getattr(b, n))

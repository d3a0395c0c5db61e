"""Bounded label values for the metrics: every one of them could otherwise come from a client.

A model is labelled with the configured public name or pattern that served it, an upstream
attempt's deployment with its configured ``provider/model`` (``provider/*`` for a deployment
that forwards the requested name), and every label has a hard cap on distinct values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from turnout.config.compile import Runtime

UNKNOWN = "(unknown)"
OVERFLOW = "(overflow)"


class LabelValues:
    """The values one label has taken; past ``cap`` distinct ones, new values are OVERFLOW."""

    __slots__ = ("_cap", "_seen")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        seen = self._seen
        if value in seen:
            return value
        if len(seen) >= self._cap:
            return OVERFLOW
        seen.add(value)
        return value


def deployment_labels(runtime: Runtime) -> Callable[[str], str]:
    """Attempt label (``provider/upstream-model``) -> the configured deployment it came from."""
    known: set[str] = set()
    star: set[str] = set()
    for route in runtime.routes():
        for d in route.deployments:
            if d.model == "*":
                star.add(d.provider)
            else:
                known.add(d.label(d.model))

    def label(value: str) -> str:
        if value in known:
            return value
        provider = value.partition("/")[0]
        return f"{provider}/*" if provider in star else UNKNOWN

    return label


def route_names(runtime: Runtime) -> Callable[[str], str | None]:
    """Requested model -> the public name or pattern that serves it (None: not served)."""

    def name(model: str) -> str | None:
        route = runtime.resolve(model)
        return route.name if route is not None else None

    return name

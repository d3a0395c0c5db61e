"""Routing strategies by name, imported lazily; config names one per model (default
``priority``) or gives ``"package.module:Class"`` for a strategy of its own."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from turnout.routing.strategies.base import Strategy

STRATEGIES: dict[str, str] = {
    "priority": "turnout.routing.strategies.priority:Priority",
    "weighted": "turnout.routing.strategies.weighted:Weighted",
    "round-robin": "turnout.routing.strategies.round_robin:RoundRobin",
    "least-busy": "turnout.routing.strategies.least_busy:LeastBusy",
    "latency": "turnout.routing.strategies.latency:Latency",
    "cost": "turnout.routing.strategies.cost:Cost",
    "sticky": "turnout.routing.strategies.sticky:Sticky",
    # Learned routers (docs/learned-routing.md); scikit-learn is imported only when used.
    "knn": "turnout.router.strategy:Knn",
    "mlp": "turnout.router.strategy:Mlp",
    "svm": "turnout.router.strategy:Svm",
    "logistic": "turnout.router.strategy:Logistic",
}


class UnknownStrategy(ValueError):
    pass


def strategy_class(name: str) -> type[Strategy]:
    target = STRATEGIES.get(name)
    if target is None:
        if ":" not in name:
            raise UnknownStrategy(f"unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")
        target = name
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownStrategy(f"cannot load strategy '{name}': {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise UnknownStrategy(f"'{name}' is not a Strategy subclass")
    return cls


def build_strategy(name: str, options: Mapping[str, Any], members: Sequence[Any]) -> Strategy:
    cls = strategy_class(name)
    return cls(members, cls.Options.model_validate(dict(options)))


__all__ = ["STRATEGIES", "Strategy", "UnknownStrategy", "build_strategy", "strategy_class"]

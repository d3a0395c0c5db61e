"""A public model compiled for the router: its members, strategy and limits, built once.

A route with a ``model: "*"`` deployment also keeps a bounded table of *views*, one per
requested model name: the same members, each wildcard one holding that model's own health
record (:mod:`turnout.health.wildcard`), so one model's failures never cool the others down.
A route without one never looks at the table (``wild`` is False).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from turnout.config.compile import ModelRoute
from turnout.health.board import HealthBoard
from turnout.health.wildcard import ModelHealth
from turnout.providers.base import Provider
from turnout.routing.classify import Classifier
from turnout.routing.member import Member
from turnout.routing.strategies import Strategy, build_strategy


class RoutePlan:
    __slots__ = (
        "context_fallbacks",
        "deadline",
        "fallbacks",
        "feedback",
        "max_attempts",
        "members",
        "name",
        "prefetch",
        "single",
        "strategy",
        "views",
        "wild",
    )

    def __init__(
        self,
        route: ModelRoute,
        board: HealthBoard,
        providers: Mapping[str, Provider],
        classifiers: Mapping[str, Classifier],
    ) -> None:
        self.name = route.name
        self.members = tuple(
            Member(i, spec, board.deployment(spec), providers[spec.provider],
                   classifiers[spec.provider])
            for i, spec in enumerate(route.deployments)
        )  # fmt: skip
        # One deployment: no strategy call at all on the request path.
        self.single: list[Member] | None = list(self.members) if len(self.members) == 1 else None
        self.strategy: Strategy = build_strategy(
            route.strategy, route.strategy_options, self.members
        )
        self.feedback = self.strategy.feedback
        self.prefetch = self.strategy.prefetch_wanted
        self.max_attempts = route.max_attempts
        self.deadline = route.deadline
        self.fallbacks = route.fallbacks
        self.context_fallbacks = route.context_fallbacks
        self.wild = any(m.spec.model == "*" for m in self.members)
        self.views: _Views | None = _Views(self, board) if self.wild else None


class View:
    """The route's members for one requested model (a wildcard route only)."""

    __slots__ = ("members", "records", "single")

    def __init__(self, members: tuple[Member, ...], records: tuple[ModelHealth, ...]) -> None:
        self.members = members
        self.single: list[Member] | None = list(members) if len(members) == 1 else None
        self.records = records  # the per-model records it holds (stale once one is evicted)


class _Views:
    """At most ``routing.wildcard_models`` views, least recently used dropped first."""

    __slots__ = ("board", "bound", "plan", "table")

    def __init__(self, plan: RoutePlan, board: HealthBoard) -> None:
        self.plan = plan
        self.board = board
        self.bound = board.wildcard_bound
        self.table: OrderedDict[str, View] = OrderedDict()

    def get(self, model: str) -> View:
        table = self.table
        view = table.get(model)
        if view is not None:
            for record in view.records:
                if record.evicted:  # the board forgot it: take the record it has now
                    break
                record.table.touch(model)  # in use: the last its table would forget
            else:
                table.move_to_end(model)
                return view
        members: list[Member] = []
        records: list[ModelHealth] = []
        for m in self.plan.members:
            health = self.board.model_health(m.health, model)
            if isinstance(health, ModelHealth):
                records.append(health)
                m = Member(m.index, m.spec, health, m.provider, m.classifier, model)
            members.append(m)
        view = table[model] = View(tuple(members), tuple(records))
        table.move_to_end(model)
        while len(table) > self.bound:
            table.popitem(last=False)
        return view

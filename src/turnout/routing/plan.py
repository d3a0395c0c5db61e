"""A public model compiled for the router: its members, strategy and limits, built once."""

from __future__ import annotations

from collections.abc import Mapping

from turnout.config.compile import ModelRoute
from turnout.health.board import HealthBoard
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

"""``weighted``: every available member by weight, whatever its priority."""

from __future__ import annotations

from switchyard.routing.member import Member
from switchyard.routing.strategies.base import Strategy, weighted_shuffle
from switchyard.types import Call


class Weighted(Strategy):
    name = "weighted"

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        return weighted_shuffle(candidates)

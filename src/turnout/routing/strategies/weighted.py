"""``weighted``: every available member by weight, whatever its priority."""

from __future__ import annotations

from turnout.routing.member import Member
from turnout.routing.strategies.base import Strategy, weighted_shuffle
from turnout.types import Call


class Weighted(Strategy):
    name = "weighted"

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        return weighted_shuffle(candidates)

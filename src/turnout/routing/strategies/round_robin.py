"""``round-robin``: each request starts one member further along (deterministic spread)."""

from __future__ import annotations

from turnout.routing.member import Member
from turnout.routing.strategies.base import Strategy
from turnout.types import Call


class RoundRobin(Strategy):
    name = "round-robin"
    _turn = 0

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        turn = self._turn
        self._turn = turn + 1
        k = turn % len(candidates)
        return candidates[k:] + candidates[:k] if k else candidates

"""``least-busy``: fewest requests in flight first (streams count until they end).

Ties take turns, so an idle route still spreads its sequential requests instead of sending
them all to the first member.
"""

from __future__ import annotations

from turnout.routing.member import Member
from turnout.routing.strategies.base import Strategy
from turnout.types import Call


class LeastBusy(Strategy):
    name = "least-busy"
    _turn = 0

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        ranked = sorted(candidates, key=lambda m: m.health.inflight)
        low = ranked[0].health.inflight
        ties = 1
        while ties < len(ranked) and ranked[ties].health.inflight == low:
            ties += 1
        if ties > 1:
            turn = self._turn
            self._turn = turn + 1
            k = turn % ties
            ranked[0], ranked[k] = ranked[k], ranked[0]
        return ranked

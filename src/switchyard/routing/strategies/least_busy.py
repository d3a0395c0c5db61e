"""``least-busy``: fewest requests in flight first (streams count until they end).

Ties rotate, so an idle route still spreads its sequential requests instead of sending them
all to the first member.
"""

from __future__ import annotations

from switchyard.routing.member import Member
from switchyard.routing.strategies.base import Strategy
from switchyard.types import Call


class LeastBusy(Strategy):
    name = "least-busy"
    _turn = 0

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        turn = self._turn
        self._turn = turn + 1
        k = turn % len(candidates)
        rotated = candidates[k:] + candidates[:k] if k else candidates
        return sorted(rotated, key=lambda m: m.health.inflight)

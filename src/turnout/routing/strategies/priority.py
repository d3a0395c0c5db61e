"""``priority`` (the default): lowest priority number first; weights split a tier.

The next tier is reached only when every member of the tier above is failing or cooling
down: unavailable members never reach the strategy, and the router walks the returned order
on failure, so a tier is exhausted before the next one is tried.
"""

from __future__ import annotations

from turnout.routing.member import Member
from turnout.routing.strategies.base import Strategy, weighted_shuffle
from turnout.types import Call


class Priority(Strategy):
    name = "priority"

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        first = candidates[0].spec.priority
        if candidates[-1].spec.priority == first:  # one tier: the common case
            return weighted_shuffle(candidates)
        out: list[Member] = []
        start, n = 0, len(candidates)
        while start < n:
            tier = candidates[start].spec.priority
            end = start + 1
            while end < n and candidates[end].spec.priority == tier:
                end += 1
            out.extend(weighted_shuffle(candidates[start:end]))
            start = end
        return out

"""``cost``: the cheapest available deployment first, by its ``price`` (USD per million tokens).

Input and output prices are summed with output weighted by ``output_weight`` (chat answers are
usually shorter than their prompts, but output tokens cost more). Deployments without a price
come last, in priority order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from turnout.routing.member import Member
from turnout.routing.strategies.base import NoOptions, Strategy
from turnout.types import Call


class CostOptions(NoOptions):
    output_weight: float = Field(1.0, ge=0, description="output tokens per input token")


class Cost(Strategy):
    name = "cost"
    Options = CostOptions

    def __init__(self, members: Sequence[Member], options: BaseModel) -> None:
        super().__init__(members, options)
        assert isinstance(options, CostOptions)
        self.rank: dict[int, float] = {}
        for m in members:
            spec = m.spec
            if spec.input_price is None:
                self.rank[m.index] = math.inf
            else:
                output = spec.output_price or 0.0
                self.rank[m.index] = spec.input_price + options.output_weight * output

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        rank = self.rank
        return sorted(candidates, key=lambda m: rank[m.index])

"""``latency``: the lowest moving average of time to first byte first, with exploration.

The average lives on the deployment's health and is fed by every answered attempt. A member
with no sample yet sorts first (it gets measured); and a share of requests (``exploration``)
takes a random order so a deployment that was slow, or recovered from an outage, is measured
again instead of being starved forever by its old average.
"""

from __future__ import annotations

import random

from pydantic import Field

from turnout.routing.member import Member
from turnout.routing.strategies.base import NoOptions, Strategy
from turnout.types import Call


class LatencyOptions(NoOptions):
    exploration: float = Field(0.1, ge=0, le=1, description="share of requests in random order")


class Latency(Strategy):
    name = "latency"
    Options = LatencyOptions

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        assert isinstance(self.options, LatencyOptions)
        if random.random() < self.options.exploration:
            shuffled = candidates[:]
            random.shuffle(shuffled)
            return shuffled
        return sorted(candidates, key=lambda m: m.health.latency)

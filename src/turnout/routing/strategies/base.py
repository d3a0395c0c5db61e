"""The contract of a routing strategy, and the shuffles several strategies share.

A strategy gets the route's *available* members (healthy, under their limits, with a usable
key), in priority order, and returns them in the order to try; the router does the rest
(attempts, failover, health). It is built once per route, so it may precompute and keep
state (a round-robin counter, a sticky table); ``order`` runs on every request and must stay
cheap: no I/O, no locks, small lists only.

A new strategy is one module here, one line in the registry, and it is selectable from the
config by name (or, out of tree, as ``"package.module:Class"``). Options come from the model's
``strategy_options`` and are validated with the strategy's ``Options`` model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from turnout.routing.member import Member
from turnout.types import Call, Handler


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy:
    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    # True if the router must call ``answered`` after a success (sticky pins on it).
    feedback: ClassVar[bool] = False

    def __init__(self, members: Sequence[Member], options: BaseModel) -> None:
        self.members = tuple(members)
        self.options = options

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        raise NotImplementedError

    def answered(self, call: Call, member: Member) -> None:
        """``member`` served ``call`` (called only when ``feedback`` is set)."""
        return None

    def carry(self, old: Strategy) -> None:
        """A reload replaced ``old`` (the same model's strategy under the previous config)
        by this one: take over whatever state is still meaningful. Members are new objects;
        match them by their deployment's id (``member.health.id``)."""
        return None

    # True if the router must await ``prefetch`` before ``order`` (a learned router that
    # needs the prompt's embedding); set per instance, as it depends on the options.
    prefetch_wanted: bool = False

    async def prefetch(self, call: Call, route: Handler) -> None:
        """Asynchronous work ``order`` depends on; ``route`` sends a call through the router
        (used for the gateway's own calls, such as an embedding of the prompt)."""
        return None


def weighted_shuffle(members: list[Member]) -> list[Member]:
    """A random order where each member comes first with probability weight / total.

    Efraimidis-Spirakis: sort by ``u ** (1 / weight)``; for two members (the common case) one
    draw decides.
    """
    n = len(members)
    if n < 2:
        return members
    if n == 2:
        a, b = members
        wa, wb = a.spec.weight, b.spec.weight
        return members if random.random() * (wa + wb) < wa else [b, a]
    rnd = random.random
    return sorted(members, key=lambda m: -(rnd() ** (1.0 / m.spec.weight)))

"""What an attempt must clear with the other replicas before it is sent (shared backend only).

With ``shared.backend: redis`` three things are decided for every replica at once, each by one
Redis call, and only where they apply: the half-open trial of a recovering deployment or key
(:mod:`turnout.shared.trials`), a slot under the deployment's ``max_concurrent``
(:mod:`turnout.shared.slots`) and its ``rpm``/``tpm`` (:mod:`turnout.shared.gate`). The
router calls :func:`admit` only when one of them applies, so a deployment with none of them,
and every deployment with the memory backend, costs nothing here.

Whatever is taken is given back when a later step refuses or the client goes away meanwhile:
a slot is released, a reserved trial is cleared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turnout.health.breaker import ACTIVE, Circuit
from turnout.health.targets import DeploymentHealth, KeyHealth
from turnout.health.wildcard import local
from turnout.types import Call

if TYPE_CHECKING:
    from turnout.shared.trials import SharedTrials

# admit()'s verdicts: send; try another key of this deployment; try the next deployment.
GO, NEXT_KEY, NEXT_DEPLOYMENT = "go", "key", "deployment"


async def admit(
    health: DeploymentHealth,
    key: KeyHealth,
    call: Call,
    now: float,
    trials: SharedTrials | None,
) -> str:
    reserved: list[Circuit] = []  # trials taken here, cleared unless the call goes
    try:
        # A wildcard deployment's per-model records (and their keys) are this process's
        # alone (health/wildcard.py): their trials are too, as with one process.
        if trials is not None:
            if health.state != ACTIVE and not local(health):
                if not await trials.take(health, now):
                    return NEXT_DEPLOYMENT  # another replica's trial runs there
                reserved.append(health)
            if key.state != ACTIVE and not local(key):
                if not await trials.take(key, now):
                    return NEXT_KEY
                reserved.append(key)
        slots = health.slots
        if slots is not None and not await slots.acquire(health, now):
            return NEXT_DEPLOYMENT  # every replica's slots are taken
        gate = health.gate
        if gate is not None:
            try:
                admitted = await gate.admit(health, len(call.body) // 4 + 1)
            except BaseException:
                if slots is not None:
                    slots.release()
                raise
            if not admitted:  # at its rpm/tpm for every replica
                if slots is not None:
                    slots.release()
                return NEXT_DEPLOYMENT
        return GO
    finally:
        # Cleared even when the call goes: the router's begin() marks the trial again before
        # anything else runs (no await between), and a target a shared record closed meanwhile
        # must not stay reserved.
        for target in reserved:
            target.trial = False

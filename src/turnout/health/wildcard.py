"""Health per model on a ``model: "*"`` deployment, in a bounded table.

A wildcard deployment forwards whatever model name the client sends. With one health record
for all of them, one client asking for a model the upstream fails (or rate-limits, or does not
have) ejects the deployment, or cools its key down, for every other client and model behind
it: one tenant denies service to all. So each model name gets a record of its own
(:class:`ModelHealth`): its breaker, cooldown, failure counts, latency and key states. What
belongs to the deployment itself stays shared: its ``max_concurrent`` (and in-flight count),
``rpm``/``tpm`` windows and the replicas' shared slots and gate, so naming more models never
buys more capacity.

Client-chosen names are unbounded, the table is not: each wildcard deployment keeps at most
``routing.wildcard_models`` records and forgets the least recently used one past it. A
forgotten model starts afresh when it is asked for again (an ejection it had is forgotten too:
a client cycling names can only get its own bad models tried once more). The records are this
process's alone: their transitions are logged like any target's, but never saved to the state
store nor published to other replicas (a row per client-chosen name would grow those without
bound).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from turnout.health.breaker import ACTIVE, Breaker, BreakerPolicy, Circuit, Journal
from turnout.health.limits import RateWindow
from turnout.health.targets import COOLING, DeploymentHealth, KeyPool

if TYPE_CHECKING:
    from turnout.shared.gate import SharedGate
    from turnout.shared.slots import SharedSlots


class _Discard(set[Circuit]):
    """A dirty set that keeps nothing: per-model records are never saved nor shared."""

    def add(self, element: Circuit) -> None:
        return None


def events_only(journal: Journal) -> Journal:
    """A journal sharing ``journal``'s log events and keeping no dirty targets."""
    out = Journal.__new__(Journal)
    out.events = journal.events
    out.dirty = _Discard()
    return out


def local(target: Circuit) -> bool:
    """Is ``target`` kept by this process alone (a per-model record or one of its keys)?"""
    journal = target.journal
    return journal is not None and type(journal.dirty) is _Discard


class ModelHealth(DeploymentHealth):
    """One model's record on a wildcard deployment: breaker, latency and keys of its own; the
    limits and the in-flight count are read from and written to the deployment (``parent``)."""

    __slots__ = ("evicted", "parent", "table")

    def __init__(
        self,
        parent: DeploymentHealth,
        model: str,
        pool: KeyPool,
        policy: BreakerPolicy,
        journal: Journal,
        table: ModelHealths,
    ) -> None:
        # Not DeploymentHealth.__init__: it would zero the parent's counters through the
        # properties below.
        Breaker.__init__(self, f"{parent.provider}/*:{model}", policy, journal)
        self.parent = parent
        self.provider = parent.provider
        self.model = model
        self.pool = pool
        self.latency = 0.0
        self.served = 0
        self.evicted = False  # dropped from its table: a cached route view must rebuild
        self.table = table

    # The deployment's own, shared by all its models (properties shadow the base's slots).
    @property
    def inflight(self) -> int:
        return self.parent.inflight

    @inflight.setter
    def inflight(self, value: int) -> None:
        self.parent.inflight = value

    @property
    def max_concurrent(self) -> int | None:
        return self.parent.max_concurrent

    @max_concurrent.setter
    def max_concurrent(self, value: int | None) -> None:
        self.parent.max_concurrent = value

    @property
    def rpm(self) -> RateWindow | None:
        return self.parent.rpm

    @rpm.setter
    def rpm(self, value: RateWindow | None) -> None:
        self.parent.rpm = value

    @property
    def tpm(self) -> RateWindow | None:
        return self.parent.tpm

    @tpm.setter
    def tpm(self, value: RateWindow | None) -> None:
        self.parent.tpm = value

    @property
    def gate(self) -> SharedGate | None:
        return self.parent.gate

    @gate.setter
    def gate(self, value: SharedGate | None) -> None:
        self.parent.gate = value

    @property
    def slots(self) -> SharedSlots | None:
        return self.parent.slots

    @slots.setter
    def slots(self, value: SharedSlots | None) -> None:
        self.parent.slots = value

    @property
    def busy_until(self) -> float:
        return self.parent.busy_until

    @busy_until.setter
    def busy_until(self, value: float) -> None:
        self.parent.busy_until = value

    def available(self, now: float) -> bool:
        # The deployment's own breaker too: the keeper, an operator or another replica may
        # have ejected the deployment as a whole.
        return self.parent.until <= now and super().available(now)

    def blocked(self, now: float) -> tuple[str, float]:
        parent = self.parent
        if parent.until > now:
            return COOLING, max(parent.until - now, 1.0)
        return super().blocked(now)

    def succeed(self, now: float) -> None:
        super().succeed(now)
        parent = self.parent
        if parent.state != ACTIVE and parent.until <= now:  # a restored or shared ejection over
            parent.close(now)

    def __repr__(self) -> str:
        return f"ModelHealth({self.id!r}, state={self.state!r})"


class ModelHealths:
    """The per-model records of one wildcard deployment: at most ``bound``, least recently
    used dropped first."""

    __slots__ = ("bound", "evictions", "journal", "parent", "pool_for", "records")

    def __init__(
        self,
        parent: DeploymentHealth,
        bound: int,
        journal: Journal,
        pool_for: Callable[[str], KeyPool],
    ) -> None:
        self.parent = parent
        self.bound = bound
        self.journal = events_only(journal)
        self.pool_for = pool_for  # the key pool a model's record uses
        self.records: OrderedDict[str, ModelHealth] = OrderedDict()
        self.evictions = 0

    def get(self, model: str) -> ModelHealth:
        records = self.records
        health = records.get(model)
        if health is not None:
            records.move_to_end(model)
            return health
        while len(records) >= self.bound:
            _, old = records.popitem(last=False)
            old.evicted = True
            self.evictions += 1
        health = records[model] = ModelHealth(
            self.parent, model, self.pool_for(model), self.parent.policy, self.journal, self
        )
        return health

    def touch(self, model: str) -> None:
        records = self.records
        if model in records:
            records.move_to_end(model)

    def report(self, now: float, limit: int = 20) -> dict[str, object]:
        """For ``/admin/health``: how many records, the bound, and the models not active."""
        out: list[dict[str, object]] = []
        for model, h in reversed(self.records.items()):  # most recently used first
            if len(out) >= limit:
                break
            if (
                h.until > now
                or h.state != ACTIVE
                or (h.pool is not self.parent.pool and any(k.until > now for k in h.pool.keys))
            ):
                out.append(
                    {
                        "model": model,
                        "state": h.state,
                        "reason": h.reason,
                        "retry_in": round(max(0.0, h.until - now), 3),
                    }
                )
        return {
            "tracked": len(self.records),
            "bound": self.bound,
            "evictions": self.evictions,
            "not_active": out,
        }

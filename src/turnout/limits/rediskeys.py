"""The Redis keys of a limits plan and the script arguments derived from them.

Every key one call's script touches carries the same hash tag (``limits.plan.slot_tag``: the
caller's team, or its key when it has none), so on a Cluster each script runs on one slot.
Derived once per plan (and budget period) and kept in the plan's memo by the Redis limiter
(:mod:`turnout.limits.redis`), so per call only the ticket, the token estimate and the cost
are added.
"""

from __future__ import annotations

from typing import Any

from turnout.limits.plan import Plan, slot_tag


class Compiled:
    """A plan's Redis keys and the script arguments that do not change per call, derived once
    per plan (and budget period): per call only the ticket, the token estimate and the cost
    are added."""

    __slots__ = ("budget_keys", "checks", "keys", "keysets", "settle", "slots", "tag", "tail")

    def __init__(self, plan: Plan, prefix: str) -> None:
        self.tag = tag = "{" + slot_tag(plan) + "}"  # one hash slot for every key of the plan
        self.keys: list[str] = []
        # (kind, key index, limit) per check; budget key names depend on the period.
        self.checks: list[tuple[str, int, Any]] = []
        self.settle: list[tuple[str, int]] = []
        for rule in plan.rules:
            if rule.rpm is not None:
                self.checks.append(("r", self._key(f"{prefix}{tag}r:{rule.scope}"), rule.rpm))
            if rule.tpm is not None:
                index = self._key(f"{prefix}{tag}t:{rule.scope}")
                self.checks.append(("t", index, rule.tpm))
                self.settle.append(("t", index))
            if rule.parallel is not None:
                index = self._key(f"{prefix}{tag}p:{rule.scope}")
                self.checks.append(("p", index, rule.parallel))
                self.settle.append(("p", index))
        self.budget_keys = [budget_keys(prefix, tag, b.scope) for b in plan.budgets]
        # The sorted sets of slots in flight, whose leases a running call has renewed.
        self.slots = [self.keys[index - 1] for kind, index in self.settle if kind == "p"]
        self.keysets: dict[tuple[int, ...], list[str]] = {}
        # Check arguments: (kind, index, limit) and whether the amount is the token estimate.
        self.tail: list[tuple[str, int, Any, bool]] = [
            (kind, index, limit, kind == "t") for kind, index, limit in self.checks
        ]

    def _key(self, name: str) -> int:
        self.keys.append(name)
        return len(self.keys)

    def all_keys(self, periods: tuple[int, ...]) -> list[str]:
        keys = self.keysets.get(periods)
        if keys is None:
            if len(self.keysets) > 4:
                self.keysets.clear()
            keys = list(self.keys)
            for (spend, held, leases), start in zip(self.budget_keys, periods, strict=True):
                keys += (f"{spend}{start}", held, leases)
            self.keysets[periods] = keys
        return keys

    def rule(self, plan: Plan, index: int) -> Any:
        """The rule a refused check belongs to: the n-th check is the rule's that produced it,
        in rule order."""
        seen = 0
        for rule in plan.rules:
            for present in (rule.rpm, rule.tpm, rule.parallel):
                if present is None:
                    continue
                if seen == index:
                    return rule
                seen += 1
        return plan.rules[0]


def budget_keys(prefix: str, tag: str, scope: str) -> tuple[str, str, str]:
    """A budget's spend key (the period start is appended), reservations and their leases."""
    return (f"{prefix}{tag}b:{scope}:", f"{prefix}{tag}h:{scope}", f"{prefix}{tag}z:{scope}")

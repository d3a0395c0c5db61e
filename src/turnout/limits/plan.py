"""What one call must pass: the limits of each scope it counts against, and its budgets.

A scope is a counter's name: ``k:<key id>`` (the key), ``t:<team>`` (its team) and
``m:<key id>:<model glob>`` (the key on the models one ``model_limits`` entry matches, counted
together). Plans are built once per (key, model) by :mod:`turnout.auth.principal` and
reused; a :class:`Ticket` is one call's use of a plan.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Rule:
    scope: str
    label: str  # for error messages: "key key_1a2b", "team search", "key key_1a2b on gpt-*"
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    tag: str = ""  # Redis hash tag shared by every counter of one caller (see slot_tag)


@dataclass(frozen=True, slots=True)
class BudgetRule:
    scope: str
    label: str
    amount: float  # USD per period
    period: str
    tag: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    rules: tuple[Rule, ...]
    budgets: tuple[BudgetRule, ...] = ()
    tokens: bool = field(init=False)  # some rule limits tokens: estimate them
    parallel: bool = field(init=False)  # some rule holds a slot until the call ends
    rated: bool = field(init=False)  # some rule limits a rate: answers carry x-ratelimit-*
    # The usual plan, one rule that limits requests per minute and nothing else: the
    # in-process limiter admits it without the general pass (turnout.limits.memory).
    single: Rule | None = field(init=False)
    # Backends keep what they derive from a plan here (Redis key names), once per plan.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", any(r.tpm for r in self.rules))
        object.__setattr__(self, "parallel", any(r.parallel for r in self.rules))
        object.__setattr__(self, "rated", any(r.rpm or r.tpm for r in self.rules))
        only = self.rules[0] if len(self.rules) == 1 and not self.budgets else None
        if only is not None and (only.rpm is None or only.tpm is not None or only.parallel):
            only = None
        object.__setattr__(self, "single", only)

    @property
    def costly(self) -> bool:
        """Something needs the call's estimated tokens or cost."""
        return self.tokens or bool(self.budgets)


_prefix = os.urandom(5).hex()
_counter = itertools.count()


class Ticket:
    """One admitted call: what it reserved, so that it can be settled exactly once.

    A plain slotted class (not a dataclass): one is made per limited call."""

    __slots__ = (
        "cost",
        "expected",
        "finished",
        "floor",
        "held",
        "local",
        "periods",
        "plan",
        "second",
        "seq",
        "settled",
        "tokens",
    )

    def __init__(self, plan: Plan, tokens: int = 0, cost: float = 0.0) -> None:
        self.plan = plan
        self.tokens = tokens  # tokens reserved: input + the most output it may write
        self.expected = tokens  # tokens counted when its usage is unknown: the expected
        self.cost = cost  # USD reserved: the most the call may cost (budgets.estimate)
        self.floor = cost  # USD charged when its usage is unknown: the expected cost
        self.seq = next(_counter)
        self.second = 0  # the window bucket its tokens were counted in
        self.periods: tuple[int, ...] = ()  # budget period starts, one per plan budget
        self.local = True  # admitted by an in-process limiter (else by Redis)
        self.settled = False
        self.finished = False
        # Its slot stays taken after the answer: a background response still generating
        # (turnout.conversations.background frees it when the response has ended).
        self.held = False

    @property
    def token(self) -> str:
        """Unique across replicas (a member of Redis sets)."""
        return f"{_prefix}{self.seq:x}"


def owner(scope: str) -> str:
    """The scope a counter belongs to for slotting: ``m:<key>:<glob>`` belongs to its key."""
    if scope.startswith("m:"):
        return "k:" + scope[2:].split(":", 1)[0]
    return scope


def slot_tag(plan: Plan) -> str:
    """The one Redis hash tag of every key a plan's script touches, so that on a Redis Cluster
    the script runs on one slot: the tag its rules carry (the caller's team, or its key when
    it has no team), else the team scope among them, else the first rule's owner."""
    items: tuple[Rule | BudgetRule, ...] = (*plan.rules, *plan.budgets)
    for item in items:
        if item.tag:
            return item.tag
    for item in items:
        if item.scope.startswith("t:"):
            return item.scope
    return owner(items[0].scope) if items else ""


# Seconds to wait when a budget is not spent but reserved by calls in flight (refused as a
# rate limit, which SDKs retry, not as a spent quota, which they do not).
HELD_WAIT = 1.0


@dataclass(slots=True)
class Verdict:
    """The answer to an admission. ``rule`` is set when the call was refused; the numbers
    feed the ``x-ratelimit-*`` headers and describe the tightest rule of each kind."""

    ok: bool
    rule: Rule | BudgetRule | None = None
    what: str = ""  # "requests" | "tokens" | "parallel" | "budget" | "held" (reserved)
    retry_after: float = 0.0  # seconds
    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None


ADMITTED = Verdict(True)

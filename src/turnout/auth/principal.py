"""A caller as the request path sees it: a key compiled with its team into ready answers.

Everything a request asks about a key (may it use this model? what must it pass?) is derived
once per (key, model) and memoised on the principal; the memo is bounded because model names
come from clients. A principal is rebuilt whenever its key or team changes, so the memo never
holds a stale answer.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from turnout.auth.records import KeyRecord, Limits, TeamRecord
from turnout.limits.plan import BudgetRule, Plan, Rule

_MEMO_MAX = 512


def _rule(scope: str, label: str, limits: Limits, tag: str) -> Rule:
    return Rule(scope, label, limits.rpm, limits.tpm, limits.max_parallel, tag)


def slot_tag_of(key: KeyRecord) -> str:
    """Every counter of a key lives on its team's Redis slot (its own without a team), so one
    script can check the key's and the team's limits together on a Redis Cluster."""
    return f"t:{key.team}" if key.team else f"k:{key.id}"


def _allows(patterns: tuple[str, ...], model: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(model, p) for p in patterns)


@dataclass(slots=True)
class Principal:
    id: str
    team: str | None
    expires: float | None  # epoch seconds
    key_models: tuple[str, ...] = ()
    team_models: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()  # the key's and the team's own
    model_rules: tuple[tuple[str, Rule], ...] = ()
    budgets: tuple[BudgetRule, ...] = ()
    admin: bool = False  # the key has the admin scope: the admin API accepts it
    limited: bool = False  # some plan of this principal is not empty
    settles: bool = False  # some plan needs real usage after the call (tokens, budgets)
    _allowed: dict[str, bool] = field(default_factory=dict)
    _plans: dict[str, Plan | None] = field(default_factory=dict)
    _request: list[Plan | None] = field(default_factory=list)  # request_plan's, once made

    def allows(self, model: str) -> bool:
        allowed = self._allowed.get(model)
        if allowed is None:
            allowed = _allows(self.key_models, model) and _allows(self.team_models, model)
            if len(self._allowed) >= _MEMO_MAX:
                self._allowed.clear()
            self._allowed[model] = allowed
        return allowed

    def plan(self, model: str) -> Plan | None:
        """The limits and budgets a call to ``model`` counts against; None: nothing to count."""
        plans = self._plans
        if model in plans:
            return plans[model]
        rules = list(self.rules)
        for pattern, rule in self.model_rules:
            if fnmatch.fnmatchcase(model, pattern):
                rules.insert(1 if rules and rules[0].scope.startswith("k:") else 0, rule)
                break
        plan = Plan(tuple(rules), self.budgets) if rules or self.budgets else None
        if len(plans) >= _MEMO_MAX:
            plans.clear()
        plans[model] = plan
        return plan

    def request_plan(self) -> Plan | None:
        """The key's and team's ``rpm`` and ``max_parallel`` alone: what a request that uses
        no tokens and costs nothing (a batch route's) counts against; None: nothing."""
        if not self._request:
            rules = tuple(
                Rule(r.scope, r.label, r.rpm, None, r.parallel, r.tag)
                for r in self.rules
                if r.rpm is not None or r.parallel is not None
            )
            self._request.append(Plan(rules) if rules else None)
        return self._request[0]


MASTER = Principal(id="master", team=None, expires=None)


def compile_principal(key: KeyRecord, team: TeamRecord | None) -> Principal:
    rules: list[Rule] = []
    budgets: list[BudgetRule] = []
    label = f"key {key.id}"
    tag = slot_tag_of(key)
    if key.limits:
        rules.append(_rule(f"k:{key.id}", label, key.limits, tag))
    if key.budget is not None:
        budgets.append(BudgetRule(f"k:{key.id}", label, key.budget.amount, key.budget.period, tag))
    model_rules = tuple(
        (glob, _rule(f"m:{key.id}:{glob}", f"{label} on {glob}", limits, tag))
        for glob, limits in key.model_limits
        if limits
    )
    team_models: tuple[str, ...] = ()
    if team is not None and team.active:
        team_models = team.models
        if team.limits:
            rules.append(_rule(f"t:{team.name}", f"team {team.name}", team.limits, tag))
        if team.budget is not None:
            budgets.append(
                BudgetRule(
                    f"t:{team.name}",
                    f"team {team.name}",
                    team.budget.amount,
                    team.budget.period,
                    tag,
                )
            )
    return Principal(
        id=key.id,
        team=key.team,
        expires=key.expires_at.timestamp() if key.expires_at else None,
        key_models=key.models,
        team_models=team_models,
        rules=tuple(rules),
        model_rules=model_rules,
        budgets=tuple(budgets),
        admin="admin" in key.scopes,
        limited=bool(rules or budgets or model_rules),
        settles=bool(budgets) or any(r.tpm for r in rules) or any(r.tpm for _, r in model_rules),
    )

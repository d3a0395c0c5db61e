"""What a batch route request and a batch's models count against (turnout.batches.admission):
the request, the key's and team's ``rpm`` and ``max_parallel`` once; each model, its
``model_limits`` entry, the token windows and the budgets, never the key's ``rpm`` again."""

from __future__ import annotations

from turnout.auth.principal import MASTER, Principal
from turnout.batches.admission import model_part, route_plan
from turnout.limits.plan import BudgetRule, Rule


def principal(*rules: Rule, model: Rule | None = None) -> Principal:
    budgets = (BudgetRule("t:team", "team team", 5.0, "day"),)
    models = (("gpt-*", model),) if model is not None else ()
    return Principal("key_1", "team", None, rules=rules, model_rules=models, budgets=budgets)


def test_a_route_request_counts_the_keys_and_teams_requests_only() -> None:
    key = Rule("k:key_1", "key key_1", rpm=3, tpm=1000, parallel=2)
    team = Rule("t:team", "team team", tpm=500)  # tokens only: a route request has none
    who = principal(key, team)
    plan = route_plan(who)
    assert plan is not None
    assert plan.rules == (Rule("k:key_1", "key key_1", 3, None, 2),)
    assert not plan.budgets and not plan.tokens and plan.parallel and plan.rated
    assert route_plan(who) is plan  # kept while the principal's rules are the same
    changed = principal(Rule("k:key_1", "key key_1", rpm=9))
    again = route_plan(changed)
    assert again is not None and again.rules[0].rpm == 9
    assert route_plan(principal(team)) is None
    assert route_plan(MASTER) is None and route_plan(None) is None


def test_a_batch_model_counts_its_model_limit_the_token_windows_and_the_budgets() -> None:
    key = Rule("k:key_1", "key key_1", rpm=3, tpm=1000, parallel=2)
    team = Rule("t:team", "team team", rpm=100)
    on_gpt = Rule("m:key_1:gpt-*", "key key_1 on gpt-*", rpm=1, parallel=1)
    who = principal(key, team, model=on_gpt)
    full = who.plan("gpt-4o")
    assert full is not None
    part = model_part(full)
    assert part is not None
    assert part.rules == (Rule("k:key_1", "key key_1", None, 1000, None), on_gpt)
    assert part.budgets == full.budgets
    assert model_part(full) is part
    other = who.plan("claude")
    assert other is not None
    only = model_part(other)
    assert only is not None and only.rules == (Rule("k:key_1", "key key_1", None, 1000, None),)
    bare = Principal("key_2", None, None, rules=(Rule("k:key_2", "key key_2", rpm=5),))
    plan = bare.plan("gpt-4o")
    assert plan is not None and model_part(plan) is None

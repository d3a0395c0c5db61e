"""The routing part of the config: validation messages and what compiles."""

from __future__ import annotations

from typing import Any

from tests.unit.routing.helpers import runtime
from turnout.config.validate import validate


def _problems(models: dict[str, Any], **provider: Any) -> list[str]:
    _, problems = validate({"providers": {"p": {"type": "mock", **provider}}, "models": models})
    return problems


def test_strategy_names_and_options_are_checked() -> None:
    problems = _problems(
        {
            "a": {"strategy": "stiky", "deployments": [{"provider": "p"}]},
            "b": {
                "strategy": "sticky",
                "strategy_options": {"ttl": 0, "by": ["cookie"], "tll": 1},
                "deployments": [{"provider": "p"}],
            },
            "c": {"strategy": "no.such.module:Thing", "deployments": [{"provider": "p"}]},
        }
    )
    text = "\n".join(problems)
    assert "models.a.strategy: unknown strategy 'stiky' (did you mean 'sticky'?)" in text
    assert "models.b.strategy_options.ttl:" in text
    assert "models.b.strategy_options.by[0]:" in text
    assert "models.b.strategy_options.tll: unknown option" in text
    assert "models.c.strategy: cannot load strategy 'no.such.module:Thing'" in text


def test_fallbacks_must_name_models() -> None:
    problems = _problems(
        {
            "a": {"deployments": [{"provider": "p"}], "fallbacks": ["a", "bb", "gpt-4o"]},
            "b": {"deployments": [{"provider": "p"}], "context_fallbacks": ["claude-x"]},
            "gpt-*": {"deployments": [{"provider": "p"}]},
        }
    )
    assert problems == [
        "models.a.fallbacks[0]: a model cannot fall back to itself",
        "models.a.fallbacks[1]: unknown model 'bb' (did you mean 'b'?)",
        "models.b.context_fallbacks[0]: unknown model 'claude-x'",
    ]


def test_error_rules_are_checked() -> None:
    problems = _problems(
        {"a": {"deployments": [{"provider": "p"}]}},
        error_rules=[
            {"status": 400, "match": "(", "reason": "no_quota"},
            {"path": "error..code", "reason": "no_qouta"},
            {"status": 400, "reason": "rate_limited", "priority": 3, "extra": 1},
        ],
    )
    text = "\n".join(problems)
    assert "providers.p.error_rules[0].match: invalid regular expression" in text
    assert "providers.p.error_rules[1].path: expected a dotted path" in text
    assert "providers.p.error_rules[1].reason: unknown reason 'no_qouta' (did you mean" in text
    assert "providers.p.error_rules[2].extra: unknown key" in text


def test_routing_settings_compile_into_routes() -> None:
    rt = runtime(
        {
            "providers": {"p": {"type": "mock", "error_rules": [{"status": 400,
                                                                 "reason": "no_quota"}]}},
            "routing": {"max_attempts": 4, "deadline": 30},
            "models": {
                "a": {"deployments": [{"provider": "p", "model": "x", "rpm": 5,
                                       "price": {"input": 1}}],
                      "fallbacks": ["b"], "max_attempts": 2},
                "b": {"deployments": [{"provider": "p"}]},
            },
        }
    )  # fmt: skip
    a, b = rt.resolve("a"), rt.resolve("b")
    assert a is not None and b is not None
    assert (a.max_attempts, a.deadline, a.fallbacks) == (2, 30, ("b",))
    assert (b.max_attempts, b.deadline) == (4, 30)
    assert a.deployments[0].rpm == 5 and a.deployments[0].input_price == 1
    assert rt.providers["p"].error_rules[0].statuses == frozenset({400})

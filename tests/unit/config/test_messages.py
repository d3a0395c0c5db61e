"""Config problems say where (line and path), what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.config.load import ConfigError, load_config
from turnout.config.validate import validate

BAD = """\
server: {port: 4141}
limits:
  redis_url: "redis://…"
providers:
  openai: {type: openai, api_keys: ["sk-secret-value-123"], headers: {authorization: 42}}
models:
  demo:
    cache: yes please
    deployments:
      - {provider: openai, weight: heavy}
routing:
  max_attempts: 0
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "turnout.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    return exc.value.problems


def test_problems_carry_line_path_expectation_and_value(tmp_path: Path) -> None:
    problems = _problems(tmp_path, BAD)
    assert problems == [
        "line 3: limits.redis_url: needs a valid host name, got 'redis://…'",
        "line 5: providers.openai.headers.authorization: expected a string",
        "line 8: models.demo.cache: expected true or false, or a number, got 'yes please'",
        "line 10: models.demo.deployments[0].weight: expected a number, got 'heavy'",
        "line 12: routing.max_attempts: must be at least 1, got 0",
    ]


def test_union_members_never_show_in_paths() -> None:
    _, problems = validate(
        {
            "models": {"m": {"cache": -5, "deployments": [{"provider": "p"}]}},
            "providers": {
                "p": {"type": "mock", "error_rules": [{"status": "x", "reason": "timeout"}]}
            },
        }
    )
    assert "models.m.cache: expected true or false, or a number greater than 0, got -5" in problems
    assert "providers.p.error_rules[0].status: expected an integer or a list, got 'x'" in problems
    assert not any(".bool" in p or "constrained" in p or "list[int]" in p for p in problems)


def test_secrets_are_never_echoed() -> None:
    _, problems = validate(
        {
            "providers": {"p": {"type": "openai", "api_keys": "sk-not-a-list-secret"}},
            "auth": {"master_key": "short"},
            "limits": {"redis_url": "redis://:hunter2@…:6379"},
        }
    )
    text = "\n".join(problems)
    assert "providers.p.api_keys: expected a list" in text
    assert "auth.master_key:" in text
    assert "sk-not-a-list-secret" not in text and "short'" not in text and "hunter2" not in text


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("rediss://cache.internal:6380", True),
        ("redis://…", False),
        ("redis://", False),
        ("redis://host:port", False),
        ("http://127.0.0.1:6379", False),
    ],
)
def test_redis_urls_are_checked_for_a_real_host(url: str, ok: bool) -> None:
    for section in ("limits", "cache"):
        _, problems = validate({section: {"redis_url": url}})
        assert (problems == []) is ok, (section, url, problems)


def test_a_placeholder_base_url_is_refused() -> None:
    _, problems = validate(
        {"providers": {"p": {"type": "openai", "base_url": "https://…/v1", "api_keys": ["k"]}}}
    )
    assert problems == ["providers.p.base_url: needs a valid host name, got 'https://…/v1'"]


def test_odd_spellings_of_an_address_are_left_to_the_outbound_policy() -> None:
    for url in (
        "http://%31%32%37.0.0.1/v1",
        "http://\uff11\uff12\uff17.0.0.1/v1",
        "http://127.1/v1",
    ):
        providers = {"p": {"type": "openai-compatible", "base_url": url, "api_keys": ["k"]}}
        assert validate({"providers": providers})[1] == [], url

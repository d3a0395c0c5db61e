"""Configs written for llmGateway (seed spellings) and TOML files load as their canonical form."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from turnout.cli.main import app
from turnout.config import ConfigError, compile_config, load_config
from turnout.config.canonical import canonical_tree, render
from turnout.config.seed import normalise

SEED = """\
providers:
  work:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_keys: ["${WORK_KEY}"]
    gateway_policy:
      streaming_mode: disabled
      error_parsing:
        enabled: true
        rules:
          - status_code: 400
            error_path: error.code
            match_pattern: "^billing_hard_limit$"
            map_to: quota_exceeded
            description: the account ran dry
          - {status_code: [402, 403], map_to: invalid_key, priority: 5}
models:
  gpt-4o:
    deployments: [{provider: work, model: gpt-4o}]
"""

CANONICAL = """\
providers:
  work:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_keys: ["${WORK_KEY}"]
    streaming_mode: disabled
    error_rules:
      - status: 400
        path: error.code
        match: "^billing_hard_limit$"
        reason: no_quota
        priority: 0
        description: the account ran dry
      - {status: [402, 403], reason: invalid_key, priority: 5}
models:
  gpt-4o:
    deployments: [{provider: work, model: gpt-4o}]
"""

TOML = """\
# the same config as SEED, in TOML
[providers.work]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_keys = ["${WORK_KEY}"]

[providers.work.gateway_policy]
streaming_mode = "disabled"

[providers.work.gateway_policy.error_parsing]
enabled = true

[[providers.work.gateway_policy.error_parsing.rules]]
status_code = 400
error_path = "error.code"
match_pattern = "^billing_hard_limit$"
map_to = "quota_exceeded"
description = "the account ran dry"

[[providers.work.gateway_policy.error_parsing.rules]]
status_code = [402, 403]
map_to = "invalid_key"
priority = 5

[models.gpt-4o]
deployments = [{provider = "work", model = "gpt-4o"}]
"""

ENV = {"WORK_KEY": "sk-work-0123456789"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_seed_config_loads_as_its_canonical_form(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="turnout.config"):
        seed = load_config(_write(tmp_path, "seed.yaml", SEED), env=ENV)
    canonical = load_config(_write(tmp_path, "canonical.yaml", CANONICAL), env=ENV)
    assert seed == canonical
    assert seed.providers["work"].streaming_mode == "disabled"
    assert compile_config(seed).providers["work"] == compile_config(canonical).providers["work"]
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 2  # one line per rewritten setting, each showing the canonical form
    assert all("\n" not in n for n in notices)
    assert "providers.work.streaming_mode: disabled" in notices[0]
    assert "providers.work.error_rules: [{status: 400, path: error.code" in notices[1]
    assert "reason: no_quota, description: the account ran dry, priority: 0" in notices[1]


def test_a_toml_config_is_the_same_config(tmp_path: Path) -> None:
    from_toml = load_config(_write(tmp_path, "config.toml", TOML), env=ENV)
    from_yaml = load_config(_write(tmp_path, "seed.yaml", SEED), env=ENV)
    assert from_toml == from_yaml


def test_problems_point_at_the_line_the_user_wrote(tmp_path: Path) -> None:
    bad = SEED.replace("map_to: invalid_key", "map_to: invalid_kee").replace(
        "streaming_mode: disabled", "streaming_mode: never"
    )
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "seed.yaml", bad), env=ENV)
    problems = info.value.problems
    assert problems[0].startswith("line 7: providers.work.streaming_mode: ")
    assert problems[1].startswith("line 16: providers.work.error_rules[1].reason: ")
    toml_bad = TOML.replace('map_to = "invalid_key"', 'map_to = "nope"')
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "config.toml", toml_bad), env=ENV)
    assert info.value.problems[0].startswith("line 22: providers.work.error_rules[1].reason: ")


def test_toml_syntax_errors_name_their_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "config.toml", "[server]\nport = = 1\n"), env={})
    assert info.value.problems[0].startswith("line 2, column ")
    assert "invalid TOML" in info.value.problems[0]


def test_unknown_seed_settings_and_double_spellings_are_problems() -> None:
    raw = {
        "providers": {
            "p": {
                "type": "openai",
                "streaming_mode": "auto",
                "gateway_policy": {"streaming_mode": "disabled", "retry": 3},
            }
        }
    }
    problems = normalise(raw).problems
    assert any("gateway_policy.retry: unknown gateway_policy setting" in p for p in problems)
    assert any("also set as providers.p.streaming_mode" in p for p in problems)


def test_disabled_error_parsing_adds_no_rules_and_keeps_existing_ones() -> None:
    rule = {"status": 400, "reason": "no_quota"}
    raw: dict[str, Any] = {
        "providers": {
            "p": {
                "type": "openai",
                "error_rules": [rule],
                "gateway_policy": {
                    "error_parsing": {"enabled": False, "rules": [{"map_to": "invalid_key"}]}
                },
            }
        }
    }
    out = normalise(raw)
    assert out.tree["providers"]["p"]["error_rules"] == [rule]
    assert "not used" in out.notices[0]
    raw["providers"]["p"]["gateway_policy"]["error_parsing"]["enabled"] = True
    rules = normalise(raw).tree["providers"]["p"]["error_rules"]
    assert rules == [rule, {"reason": "invalid_key", "priority": 0}]


def test_a_config_without_seed_spellings_is_returned_as_is() -> None:
    raw = {"providers": {"p": {"type": "openai"}}}
    assert normalise(raw).tree is raw


def test_print_canonical_masks_literal_keys_and_keeps_references(tmp_path: Path) -> None:
    tree, masked = canonical_tree(
        {
            "providers": {
                "a": {"type": "openai", "api_keys": ["${K}", "sk-literal-secret-123456"]},
                "b": {"type": "openai", "headers": {"Authorization": "Bearer abcdefghijkl"}},
            },
            "auth": {"master_key": "os.environ/MASTER"},
        }
    )
    assert masked == 2
    assert tree["providers"]["a"]["api_keys"][0] == "${K}"
    assert "secret" not in str(tree) and "abcdefghijkl" not in str(tree)
    assert tree["auth"]["master_key"] == "os.environ/MASTER"
    assert render({"providers": {"a": {"api_keys": ["sk-literal-secret-123456"]}}}).startswith(
        "# 1 secret(s)"
    )


def test_check_print_canonical_prints_a_file_that_loads_the_same(tmp_path: Path) -> None:
    path = _write(tmp_path, "config.toml", TOML)
    result = CliRunner().invoke(app, ["check", "-c", str(path), "--print-canonical"], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "gateway_policy" not in out and "streaming_mode: disabled" in out
    assert yaml.safe_load(out)["providers"]["work"]["error_rules"][0]["reason"] == "no_quota"
    again = _write(tmp_path, "canonical.yaml", out)
    assert load_config(again, env=ENV) == load_config(path, env=ENV)


def test_a_disabled_provider_keeps_its_protocol_for_the_keeper() -> None:
    from turnout.providers.registry import build_provider
    from turnout.providers.unstreamed import Unstreamed
    from turnout.upstream.pooled import PooledClient

    raw = {
        "providers": {"a": {"type": "anthropic", "api_keys": ["k"], "streaming_mode": "disabled"}}
    }
    runtime = compile_config(load_config_from(raw))
    provider = build_provider(runtime.providers["a"], PooledClient())
    assert isinstance(provider, Unstreamed)
    assert provider.protocol == "anthropic"


def load_config_from(raw: dict[str, Any]) -> Any:
    from turnout.config.load import parse_raw

    return parse_raw(raw, {}, "t")

"""Checking and compiling the ``plugins:`` section."""

from __future__ import annotations

from typing import Any

from turnout.config.compile import compile_config
from turnout.config.validate import validate
from turnout.plugins.base import Host
from turnout.plugins.config import PluginSet
from turnout.plugins.registry import BUILTIN, plugin_class

BASE: dict[str, Any] = {
    "providers": {
        "p": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["k"]}
    },
    "models": {"m": {"deployments": [{"provider": "p"}]}},
}


def check(plugins: list[Any]) -> list[str]:
    return validate({**BASE, "plugins": plugins})[1]


def test_every_builtin_loads() -> None:
    for name in BUILTIN:
        assert plugin_class(name).name == name


def test_unknown_plugins_and_settings_are_reported_with_paths() -> None:
    problems = check(
        [
            {"plugin": "nope"},
            {"plugin": "keywords", "settings": {"deny": "x", "typo": 1}},
            {"plugin": "keywords", "settings": {"patterns": ["("]}},
            {"plugin": "max_cost", "overrides": [{"settings": {"max_usd": -1}}]},
            {"plugin": "builtins:len"},
        ]
    )
    text = "\n".join(problems)
    assert "plugins[0].plugin: unknown plugin 'nope'" in text
    assert "plugins[1].settings.deny:" in text
    assert "plugins[1].settings.typo: unknown setting" in text
    assert "plugins[2].settings.patterns:" in text and "invalid regular expression" in text
    assert "plugins[3].settings.max_usd:" in text  # required, and no base settings
    assert "plugins[3].overrides[0].settings.max_usd:" in text
    assert "plugins[4].plugin: 'builtins:len' is not a turnout.plugins.Plugin subclass" in text


def test_a_name_used_twice_is_refused() -> None:
    problems = check([{"plugin": "keywords"}, {"plugin": "keywords"}])
    assert any("used twice" in p for p in problems)
    assert not check([{"plugin": "keywords"}, {"plugin": "keywords", "name": "k2"}])


def plugin_set(plugins: list[Any]) -> PluginSet:
    config, problems = validate({**BASE, "plugins": plugins})
    assert config is not None, problems
    runtime = compile_config(config)
    return PluginSet(runtime.config.plugins, Host(runtime=runtime))


def names(chain: Any) -> list[str]:
    return [b.name for b in chain]


def test_an_unselective_pipeline_is_one_fixed_chain() -> None:
    s = plugin_set([{"plugin": "keywords"}, {"plugin": "keywords", "name": "k2", "enabled": False}])
    assert s.static is not None
    assert names(s.chain("any", None, None)) == ["keywords"]


def test_selectors_and_overrides_decide_per_model_team_and_key() -> None:
    s = plugin_set(
        [
            {"plugin": "keywords", "name": "all", "settings": {"deny": ["a"]}},
            {"plugin": "keywords", "name": "team-only", "teams": ["red"]},
            {
                "plugin": "keywords",
                "name": "most",
                "settings": {"deny": ["x"]},
                "overrides": [
                    {"models": ["gpt-*"], "enabled": False},
                    {"keys": ["k1"], "enabled": True, "settings": {"deny": ["y"]}},
                ],
            },
        ]
    )
    assert s.static is None
    assert names(s.chain("m", None, None)) == ["all", "most"]
    assert names(s.chain("m", "red", None)) == ["all", "team-only", "most"]
    assert names(s.chain("gpt-4", "blue", None)) == ["all"]
    chain = s.chain("gpt-4", None, "k1")  # the later override turns it back on, new settings
    assert names(chain) == ["all", "most"]
    assert chain[1].plugin.settings.deny == ["y"]
    assert s.chain("m", None, None)[1].plugin.settings.deny == ["x"]
    assert s.chain("m", None, None) is s.chain("m", None, None)  # memoised


def test_only_overridden_hooks_are_called() -> None:
    s = plugin_set([{"plugin": "max_cost", "settings": {"max_usd": 1}}])
    (b,) = s.chain("m", None, None)
    assert b.before is not None and b.after is None and b.on_chunk is None

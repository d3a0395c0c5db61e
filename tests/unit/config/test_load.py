from __future__ import annotations

from pathlib import Path

import pytest

from turnout.config import ConfigError, compile_config, load_config
from turnout.config.load import parse_raw

ISSUE_EXAMPLE = """
server: {host: 127.0.0.1, port: 4141}
providers:
  openai: {type: openai, base_url: "https://api.openai.com/v1", api_keys: ["${OPENAI_API_KEY}"]}
  local:  {type: openai-compatible, base_url: "http://127.0.0.1:8000/v1", api_keys: ["none"]}
models:
  gpt-4o:
    strategy: priority
    deployments:
      - {provider: openai, model: gpt-4o, priority: 0, weight: 1}
      - {provider: local, model: my-gpt, priority: 1}
"""


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(ISSUE_EXAMPLE)
    config = load_config(path, env={"OPENAI_API_KEY": "sk-1"})
    runtime = compile_config(config)
    route = runtime.resolve("gpt-4o")
    assert route is not None
    assert [d.provider for d in route.deployments] == ["openai", "local"]
    assert runtime.providers["openai"].api_keys == ("sk-1",)
    assert config.server.max_body_bytes == 10 * 1024 * 1024  # defaults fill what is omitted


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${MISSING:-fallback}", {}, "fallback"),
        ("${EMPTY:-fallback}", {"EMPTY": ""}, "fallback"),
        ("os.environ/A", {"A": "y"}, "y"),
    ],
)
def test_environment_references(value: str, env: dict[str, str], expected: str) -> None:
    raw = {"providers": {"p": {"type": "openai", "api_keys": [value]}}}
    assert parse_raw(raw, env, "t").providers["p"].api_keys == [expected]


def test_unset_variables_are_reported_with_their_path() -> None:
    raw = {"providers": {"p": {"type": "openai", "api_keys": ["${NOPE}", "os.environ/NADA"]}}}
    with pytest.raises(ConfigError) as info:
        parse_raw(raw, {}, "t")
    assert info.value.problems == [
        "providers.p.api_keys[0]: environment variable NOPE is not set",
        "providers.p.api_keys[1]: environment variable NADA is not set",
    ]


def test_dotenv_beside_the_config_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOTENV_KEY", raising=False)
    (tmp_path / ".env").write_text("DOTENV_KEY=from-dotenv\n")
    path = tmp_path / "c.yaml"
    path.write_text('providers: {p: {type: openai, api_keys: ["${DOTENV_KEY}"]}}\n')
    assert load_config(path).providers["p"].api_keys == ["from-dotenv"]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  p: {type: openai\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "invalid YAML" in info.value.problems[0] and "line" in info.value.problems[0]


def test_patterns_resolve_in_order_with_star_last() -> None:
    raw = {
        "providers": {"a": {"type": "mock"}, "b": {"type": "mock"}},
        "models": {
            "*": {"deployments": [{"provider": "b"}]},
            "gpt-*": {"deployments": [{"provider": "a"}]},
            "exact": {"deployments": [{"provider": "b", "model": "up"}]},
        },
    }
    runtime = compile_config(parse_raw(raw, {}, "t"))
    assert runtime.resolve("gpt-4o").name == "gpt-*"  # type: ignore[union-attr]
    assert runtime.resolve("other").name == "*"  # type: ignore[union-attr]
    exact = runtime.resolve("exact")
    assert exact is not None and exact.deployments[0].upstream_model("exact") == "up"
    assert runtime.resolve("gpt-4o").deployments[0].upstream_model("gpt-4o") == "gpt-4o"  # type: ignore[union-attr]


def test_provider_repr_hides_keys() -> None:
    raw = {"providers": {"p": {"type": "openai", "api_keys": ["sk-very-secret"]}}}
    runtime = compile_config(parse_raw(raw, {}, "t"))
    assert "sk-very-secret" not in repr(runtime.providers["p"])

from __future__ import annotations

from turnout.config import compile_config
from turnout.config.load import parse_raw
from turnout.config.modes import add_demo, from_environment, single_upstream


def test_zero_config_serves_providers_found_in_the_environment() -> None:
    raw = from_environment({"OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a"})
    runtime = compile_config(parse_raw(raw, {}, "env"))
    assert set(runtime.providers) == {"openai", "anthropic"}
    assert runtime.resolve("gpt-4o").deployments[0].provider == "openai"  # type: ignore[union-attr]
    assert runtime.resolve("claude-sonnet-4").deployments[0].provider == "anthropic"  # type: ignore[union-attr]
    assert runtime.resolve("gemini-2.5-pro") is None


def test_demo_alone_answers_any_model() -> None:
    runtime = compile_config(parse_raw(add_demo(from_environment({})), {}, "demo"))
    assert runtime.resolve("demo").deployments[0].provider == "mock"  # type: ignore[union-attr]
    assert runtime.resolve("gpt-4o").deployments[0].provider == "mock"  # type: ignore[union-attr]


def test_demo_next_to_real_providers_does_not_steal_their_models() -> None:
    raw = add_demo(from_environment({"OPENAI_API_KEY": "sk-o"}))
    runtime = compile_config(parse_raw(raw, {}, "demo"))
    assert runtime.resolve("gpt-4o").deployments[0].provider == "openai"  # type: ignore[union-attr]
    assert runtime.resolve("mock-x").deployments[0].provider == "mock"  # type: ignore[union-attr]


def test_single_upstream() -> None:
    raw = single_upstream("http://127.0.0.1:8000/v1", "openai-compatible", None)
    runtime = compile_config(parse_raw(raw, {}, "cli"))
    route = runtime.resolve("anything")
    assert route is not None and route.deployments[0].upstream_model("anything") == "anything"
    assert runtime.providers["upstream"].base_url == "http://127.0.0.1:8000/v1"

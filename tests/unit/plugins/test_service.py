"""The gateway's plugins across a configuration reload (the live reload calls
``Plugins.reload`` with the new runtime; docs/plugins.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from turnout.config.compile import compile_config
from turnout.config.validate import validate
from turnout.errors import GuardrailRefused
from turnout.pipeline import build_pipeline
from turnout.plugins.service import Plugins
from turnout.types import Call, Reply

BASE: dict[str, Any] = {
    "providers": {
        "p": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["k"]}
    },
    "models": {"m": {"deployments": [{"provider": "p"}]}},
}


def runtime(plugins: list[Any]) -> Any:
    config, problems = validate({**BASE, "plugins": plugins})
    assert config is not None, problems
    return compile_config(config)


def call(team: str | None) -> Call:
    data = {"model": "m", "messages": [{"role": "user", "content": "the codename is x"}]}
    c = Call("openai", "chat", "m", orjson.dumps(data), data, False, {}, "r", 0.0)
    c.team = team
    return c


def run(reply: Any) -> Any:
    return asyncio.run(reply)


def test_a_reload_turns_a_guardrail_on_for_one_team_only() -> None:
    plugins = Plugins(runtime([]))
    reply = Reply(200, [], b"{}")

    async def terminal(c: Call) -> Reply:
        return reply

    handler = build_pipeline(plugins.steps(), terminal)

    def reload(entries: list[Any]) -> None:  # as the app does: reload, then assemble
        nonlocal handler
        plugins.reload(runtime(entries))
        handler = build_pipeline(plugins.steps(), terminal)

    assert plugins.steps() == []  # nothing configured (and no services): no step at all
    guard = {"plugin": "keywords", "teams": ["red"], "settings": {"deny": ["codename"]}}
    reload([guard])
    assert len(plugins.steps()) == 1
    with pytest.raises(GuardrailRefused):
        run(handler(call("red")))
    assert run(handler(call("blue"))) is reply
    assert run(handler(call(None))) is reply
    reload([{**guard, "settings": {"deny": ["other"]}}])
    assert run(handler(call("red"))) is reply
    reload([{**guard, "enabled": False}])
    assert plugins.steps() == []  # all off: out of the chain

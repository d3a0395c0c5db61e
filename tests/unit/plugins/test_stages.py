"""The built-in steps as plugins: their default places, moving and switching them, the rules
they keep (docs/plugins.md#the-built-in-steps)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from turnout.config.compile import compile_config
from turnout.config.validate import validate
from turnout.pipeline import build_pipeline
from turnout.plugins.service import Plugins
from turnout.types import Call, Handler, Reply

BASE: dict[str, Any] = {
    "providers": {
        "p": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["k"]}
    },
    "models": {"m": {"deployments": [{"provider": "p"}]}},
}
SAMPLE = "tests.support.sample_plugins"


def problems(plugins: list[Any]) -> list[str]:
    _, found = validate({**BASE, "plugins": plugins})
    return found


def plugins_of(entries: list[Any]) -> Plugins:
    config, found = validate({**BASE, "plugins": entries})
    assert config is not None, found
    return Plugins(compile_config(config))


class Service:
    """A service's step that writes its name into the trace as it runs."""

    def __init__(self, name: str, trace: list[str]) -> None:
        self.name, self.trace = name, trace

    async def __call__(self, call: Call, next: Handler) -> Reply:
        self.trace.append(self.name)
        return await next(call)


def services(trace: list[str], *off: str) -> dict[str, Any]:
    names = ("capture", "auth", "limits", "cache", "lead")
    return {n: (None if n in off else Service(n, trace)) for n in names}


def run(steps: list[Any], model: str = "m", team: str | None = None) -> tuple[Call, Reply]:
    async def terminal(c: Call) -> Reply:
        return Reply(200, [], b"{}")

    data = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    call = Call("openai", "chat", model, orjson.dumps(data), data, False, {}, "r", 0.0)
    call.team = team

    async def through() -> Reply:
        return await build_pipeline(steps, terminal)(call)

    return call, asyncio.run(through())


def test_without_plugins_the_chain_is_the_services_steps_themselves() -> None:
    trace: list[str] = []
    s = services(trace)
    steps = plugins_of([]).steps(s, {"cache": s["lead"]})
    # the very objects: a configuration that does not name them pays nothing for the contract
    assert steps == [s["capture"], s["auth"], s["limits"], s["lead"], s["cache"]]


def test_services_that_are_off_are_left_out_and_the_lead_goes_last() -> None:
    trace: list[str] = []
    s = services(trace, "capture", "cache")
    steps = plugins_of([]).steps(s, {"cache": s["lead"]})
    assert steps == [s["auth"], s["limits"], s["lead"]]


def test_configured_plugins_sit_between_limits_and_the_cache() -> None:
    trace: list[str] = []
    s = services(trace)
    tagger = {"plugin": f"{SAMPLE}:Tagger", "settings": {"tag": "t"}}
    steps = plugins_of([tagger]).steps(s, {"cache": s["lead"]})
    assert steps[:3] == [s["capture"], s["auth"], s["limits"]]
    assert steps[4:] == [s["lead"], s["cache"]]
    assert type(steps[3]).__name__ == "PluginStep"


def test_a_named_built_in_takes_its_place_in_the_list() -> None:
    trace: list[str] = []
    s = services(trace)
    tagger = {"plugin": f"{SAMPLE}:Tagger", "settings": {"tag": "t"}}
    entries = [{"plugin": "auth"}, {"plugin": "cache"}, tagger, {"plugin": "capture"}]
    steps = plugins_of(entries).steps(s, {"cache": s["lead"]})
    # limits is not named: it follows auth wherever auth is
    assert steps[:4] == [s["auth"], s["limits"], s["lead"], s["cache"]]
    assert steps[5] is s["capture"]
    entries = [{"plugin": "cache"}, tagger, {"plugin": "auth"}]
    steps = plugins_of(entries).steps(s, {"cache": s["lead"]})
    assert steps[:3] == [s["capture"], s["lead"], s["cache"]]
    assert steps[4:] == [s["auth"], s["limits"]]


def test_a_built_in_switched_per_model_runs_for_those_models_only() -> None:
    trace: list[str] = []
    s = services(trace)
    entry = {
        "plugin": "cache",
        "enabled": False,
        "overrides": [{"models": ["c-*"], "enabled": True}],
    }
    steps = plugins_of([entry]).steps(s, {"cache": s["lead"]})
    run(steps, "c-1")
    assert trace == ["capture", "auth", "limits", "lead", "cache"]
    trace.clear()
    run(steps, "m")
    assert trace == ["capture", "auth", "limits", "lead"]


def test_a_built_in_switched_per_team() -> None:
    trace: list[str] = []
    s = services(trace)
    entry = {"plugin": "capture", "overrides": [{"models": ["secret-*"], "enabled": False}]}
    limits = {"plugin": "limits", "overrides": [{"teams": ["ops"], "enabled": False}]}
    steps = plugins_of([entry, {"plugin": "auth"}, limits]).steps(s)
    run(steps, "secret-1", team="ops")
    assert trace == ["auth", "cache"]
    trace.clear()
    run(steps, "m", team="dev")
    assert trace == ["capture", "auth", "limits", "cache"]


def test_an_around_plugin_of_our_own_wraps_the_rest() -> None:
    trace: list[str] = []
    s = services(trace)
    steps = plugins_of([{"plugin": f"{SAMPLE}:Timer", "name": "timer", "models": ["m"]}]).steps(s)
    call, reply = run(steps, "m")
    assert (b"x-timer", b"around") in reply.headers
    assert call.guardrails == [("timer", "timer", "ran")]
    call, reply = run(steps, "other")
    assert (b"x-timer", b"around") not in reply.headers and call.guardrails is None
    assert trace.count("cache") == 2  # the rest of the chain ran both times
    steps = plugins_of([{"plugin": f"{SAMPLE}:Timer"}]).steps(s)  # for every call
    assert type(steps[3]).__name__ == "_Around"
    assert (b"x-timer", b"around") in run(steps, "other")[1].headers


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"plugin": "auth", "enabled": False}], "'auth' cannot be switched off"),
        (
            [{"plugin": "auth", "overrides": [{"models": ["x"], "enabled": False}]}],
            "'auth' cannot be switched off",
        ),
        ([{"plugin": "limits"}, {"plugin": "auth"}], "'limits' must come after 'auth'"),
        ([{"plugin": "cache"}, {"plugin": "cache"}], "may appear only once"),
        ([{"plugin": "cache", "timeout": 1}], "has no time budget"),
        ([{"plugin": "cache", "settings": {"ttl": 5}}], "unknown setting"),
        (
            [
                {"plugin": "keywords", "teams": ["a"], "settings": {"deny": ["x"]}},
                {"plugin": "auth"},
            ],
            "runs before 'auth'",
        ),
        (
            [
                {"plugin": "capture", "overrides": [{"keys": ["k1"], "enabled": False}]},
                {"plugin": "auth"},
            ],
            "runs before 'auth'",
        ),
    ],
)
def test_rules_of_the_built_ins(entries: list[Any], expected: str) -> None:
    found = problems(entries)
    assert any(expected in p for p in found), found


def test_places_that_are_fine() -> None:
    keywords = {"plugin": "keywords", "teams": ["a"], "settings": {"deny": ["x"]}}
    assert problems([{"plugin": "cache"}, keywords, {"plugin": "capture", "models": ["m*"]}]) == []
    assert (
        problems([{"plugin": "capture", "overrides": [{"models": ["s"], "enabled": False}]}]) == []
    )

"""The keeper's effect on key state, with a scripted provider (no network)."""

from __future__ import annotations

from typing import Any

import orjson

from tests.unit.routing.helpers import error, ok, providers, runtime
from turnout.config.schema import Cooldowns, HealthConfig
from turnout.health.board import HealthBoard
from turnout.health.keeper import HealthKeeper
from turnout.types import Call

RAW = {
    "providers": {
        "a": {"type": "openai", "api_keys": ["sk-good-0001", "sk-revoked-01"]},
        "b": {"type": "openai", "api_keys": ["sk-bbbb-0001"], "shared_key_status": True},
        "c": {"type": "openai", "api_keys": ["sk-cccc-0001"]},
        "d": {"type": "openai", "api_keys": ["sk-dddd-0001"], "probe": False},
    },
    "models": {
        "m": {"deployments": [{"provider": "a", "model": "gpt-x"}]},
        "n": {"deployments": [{"provider": "b", "model": "n1"}, {"provider": "b", "model": "n2"}]},
        "c-*": {"deployments": [{"provider": "c"}]},  # "*" and no probe_model: not probed
        "d": {"deployments": [{"provider": "d", "model": "dd"}]},
    },
}


def _keeper(scripts: dict[str, Any]) -> tuple[HealthKeeper, HealthBoard, list[Any]]:
    rt = runtime(RAW)
    board = HealthBoard(rt)
    log: list[Any] = []
    keeper = HealthKeeper(board, providers(rt, scripts, log), HealthConfig(), Cooldowns())
    return keeper, board, log


async def test_targets_per_model_and_shared() -> None:
    keeper, _, _ = _keeper({})
    assert sorted((t.key.provider, t.model) for t in keeper.targets) == [
        ("a", "gpt-x"), ("a", "gpt-x"), ("b", "n1"),
    ]  # fmt: skip
    assert keeper.skipped == ["c/*"]


async def test_revoked_key_marked_invalid_then_restored_active() -> None:
    revoked = {"on": True}
    seen: list[Call] = []

    def script(d: Any, key: str, c: Call) -> Any:
        seen.append(c)
        return error(401) if key == "sk-revoked-01" and revoked["on"] else ok()

    keeper, board, _ = _keeper({"a": script})
    results = await keeper.probe_all()
    states = {r.key_id: r.state for r in results if r.provider == "a"}
    assert sorted(states.values()) == ["active", "invalid"]
    body = orjson.loads(seen[0].body)
    assert body["max_tokens"] == 1 and body["model"] == "gpt-x"
    revoked["on"] = False
    await keeper.probe_all()
    assert all(k.state == "active" for k in board.all_keys())
    assert all(k.probe_reason == "ok" for k in board.all_keys() if k.provider == "a")


async def test_server_errors_do_not_change_key_state() -> None:
    keeper, board, _ = _keeper({"a": lambda d, k, c: error(500), "b": lambda d, k, c: error(429)})
    await keeper.probe_all()
    states = {k.provider: k.state for k in board.all_keys()}
    assert states["a"] == "active" and states["b"] == "rate_limited"
    assert {k.probe_reason for k in board.all_keys() if k.provider == "a"} == {"server_error"}

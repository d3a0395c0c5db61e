from __future__ import annotations

from collections import Counter

from switchyard.config import compile_config
from switchyard.config.load import parse_raw
from switchyard.routing.router import priority_order


def _route(deployments: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    raw = {
        "providers": {n: {"type": "mock"} for n in ("a", "b", "c")},
        "models": {"m": {"deployments": deployments}},
    }
    route = compile_config(parse_raw(raw, {}, "t")).resolve("m")
    assert route is not None
    return route


def test_lower_priority_number_first() -> None:
    route = _route([{"provider": "c", "priority": 2}, {"provider": "a", "priority": 0}])
    for _ in range(20):
        assert [d.provider for d in priority_order(route)] == ["a", "c"]


def test_weights_split_a_tier() -> None:
    route = _route(
        [
            {"provider": "a", "weight": 3},
            {"provider": "b", "weight": 1},
            {"provider": "c", "priority": 1},
        ]
    )
    firsts = Counter(priority_order(route)[0].provider for _ in range(4000))
    assert firsts["c"] == 0
    assert 0.70 < firsts["a"] / 4000 < 0.80
    assert all(priority_order(route)[-1].provider == "c" for _ in range(50))

"""Each strategy's order, and the registry that finds them by name."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.unit.routing.helpers import call, runtime
from turnout.health.board import HealthBoard
from turnout.routing.classify import Classifier
from turnout.routing.member import Member
from turnout.routing.strategies import (
    STRATEGIES,
    UnknownStrategy,
    build_strategy,
    strategy_class,
)
from turnout.routing.strategies.base import Strategy
from turnout.routing.strategies.sticky import StickyOptions, client_key, pin_owner
from turnout.shared.port import Pin
from turnout.types import Call

N = 4000


def _members(deployments: list[dict[str, Any]]) -> list[Member]:
    raw = {
        "providers": {n: {"type": "mock"} for n in "abcd"},
        "models": {"m": {"deployments": deployments}},
    }
    rt = runtime(raw)
    board = HealthBoard(rt)
    route = rt.resolve("m")
    assert route is not None
    classifier = Classifier(())
    return [
        Member(i, spec, board.deployment(spec), None, classifier)  # type: ignore[arg-type]
        for i, spec in enumerate(route.deployments)
    ]


def _strategy(name: str, members: list[Member], **options: Any) -> Strategy:
    return build_strategy(name, options, members)


def _firsts(strategy: Strategy, members: list[Member], calls: int = N) -> Counter[str]:
    return Counter(strategy.order(list(members), call()).__getitem__(0).spec.provider
                   for _ in range(calls))  # fmt: skip


def test_priority_orders_tiers_and_weights_split_a_tier() -> None:
    members = _members(
        [
            {"provider": "a", "weight": 3},
            {"provider": "b", "weight": 1},
            {"provider": "c", "priority": 1},
        ]
    )
    s = _strategy("priority", members)
    firsts = _firsts(s, members)
    assert firsts["c"] == 0
    assert 0.70 < firsts["a"] / N < 0.80
    assert all(s.order(list(members), call())[-1].spec.provider == "c" for _ in range(50))


def test_priority_with_an_unavailable_tier_starts_at_the_next() -> None:
    members = _members([{"provider": "a"}, {"provider": "b", "priority": 1}])
    s = _strategy("priority", members)
    assert [m.spec.provider for m in s.order(members[1:], call())] == ["b"]


def test_weighted_ignores_priority() -> None:
    members = _members([{"provider": "a", "weight": 1}, {"provider": "b", "weight": 1,
                                                         "priority": 5}])  # fmt: skip
    firsts = _firsts(_strategy("weighted", members), members)
    assert 0.45 < firsts["a"] / N < 0.55


def test_weighted_three_way_spread() -> None:
    members = _members(
        [{"provider": "a", "weight": 5}, {"provider": "b", "weight": 3}, {"provider": "c"}]
    )
    firsts = _firsts(_strategy("weighted", members), members, 9000)
    for name, share in (("a", 5 / 9), ("b", 3 / 9), ("c", 1 / 9)):
        assert abs(firsts[name] / 9000 - share) < 0.03


def test_round_robin_is_exact() -> None:
    members = _members([{"provider": p} for p in "abc"])
    firsts = _firsts(_strategy("round-robin", members), members, 300)
    assert firsts == {"a": 100, "b": 100, "c": 100}


def test_least_busy_prefers_fewest_in_flight_and_rotates_ties() -> None:
    members = _members([{"provider": p} for p in "abc"])
    s = _strategy("least-busy", members)
    members[0].health.inflight = 2
    members[1].health.inflight = 1
    members[2].health.inflight = 1
    firsts = _firsts(s, members, 100)
    assert firsts["a"] == 0 and firsts["b"] == firsts["c"] == 50


def test_latency_prefers_the_fastest_and_explores() -> None:
    members = _members([{"provider": "a"}, {"provider": "b"}])
    members[0].health.observe_latency(0.5)
    members[1].health.observe_latency(0.05)
    greedy = _strategy("latency", members, exploration=0)
    assert _firsts(greedy, members, 100) == {"b": 100}
    exploring = _strategy("latency", members, exploration=0.2)
    share = _firsts(exploring, members)["a"] / N
    assert 0.06 < share < 0.14  # half of the 20 % random orders


def test_latency_measures_unmeasured_members_first() -> None:
    members = _members([{"provider": "a"}, {"provider": "b"}])
    members[0].health.observe_latency(0.01)
    assert _firsts(_strategy("latency", members, exploration=0), members, 10) == {"b": 10}


def test_cost_cheapest_first_unknown_last() -> None:
    members = _members(
        [
            {"provider": "a"},
            {"provider": "b", "price": {"input": 3, "output": 15}},
            {"provider": "c", "price": {"input": 1, "output": 2}},
            {"provider": "d", "price": {"input": 0.5, "output": 10}},
        ]
    )
    s = _strategy("cost", members)
    assert [m.spec.provider for m in s.order(list(members), call())] == ["c", "d", "b", "a"]
    s = _strategy("cost", members, output_weight=0)
    assert [m.spec.provider for m in s.order(list(members), call())] == ["d", "c", "b", "a"]


def _session(sid: str) -> Call:
    c = call()
    c.headers[b"x-session-id"] = sid.encode()
    return c


def test_sticky_pins_a_session_and_repins_on_failure() -> None:
    members = _members([{"provider": p} for p in "abcd"])
    s = _strategy("sticky", members)
    c = _session("agent-1")
    first = s.order(list(members), c)[0]
    s.answered(c, first)
    # Same tier, equal weights: without the pin the first pick would vary.
    for _ in range(50):
        c = _session("agent-1")
        assert s.order(list(members), c)[0] is first
    # The pinned deployment is unavailable: another serves and becomes the pin.
    rest = [m for m in members if m is not first]
    c = _session("agent-1")
    other = s.order(rest, c)[0]
    s.answered(c, other)
    assert s.order(list(members), _session("agent-1"))[0] is other


def test_sticky_keys_by_source_order_and_ttl() -> None:
    members = _members([{"provider": p} for p in "ab"])
    s = _strategy("sticky", members, by=["prompt_cache_key", "prefix"], ttl=60)
    c = call(prompt_cache_key="pck-1")
    s.order(list(members), c)
    assert c.sticky_key is not None and c.sticky_key.startswith("p:")
    assert "pck-1" not in c.sticky_key
    c2 = call()
    s.order(list(members), c2)
    assert c2.sticky_key is not None and c2.sticky_key.startswith("h:")  # conversation prefix
    s.answered(c2, members[1])
    assert s.pinned(c2.sticky_key) is members[1]  # type: ignore[attr-defined]
    s.clock = lambda: 10**9  # type: ignore[attr-defined]
    assert s.pinned(c2.sticky_key) is None  # type: ignore[attr-defined]


def test_sticky_gateway_key_uses_the_credential_hash() -> None:
    members = _members([{"provider": p} for p in "ab"])
    s = _strategy("sticky", members)
    c = call()
    c.headers[b"authorization"] = b"Bearer sk-client-1"
    s.order(list(members), c)
    assert c.sticky_key is not None
    assert c.sticky_key.startswith("g:") and "sk-client" not in c.sticky_key


def test_sticky_table_is_bounded() -> None:
    members = _members([{"provider": p} for p in "ab"])
    s = _strategy("sticky", members, max_entries=3)
    for i in range(10):
        c = _session(f"s{i}")
        s.order(list(members), c)
        s.answered(c, members[0])
    kept = [client_key(_session(f"s{i}"), s.opts) for i in (7, 8, 9)]  # type: ignore[attr-defined]
    assert list(s.pins) == kept  # type: ignore[attr-defined]


def test_sticky_client_identities_are_per_key_and_bounded() -> None:
    """Before: a session id (or ``prompt_cache_key``) was the pin's key as sent: two tenants
    choosing the same id shared one pin (and each other's failures moved it), and 100,000
    pins of 8 KiB ids held 800 MB."""
    members = _members([{"provider": p} for p in "abcd"])
    s = _strategy("sticky", members)
    alice, mallory = _session("agent-1"), _session("agent-1")
    alice.key_id, mallory.key_id = "key-alice", "key-mallory"
    s.order(list(members), alice)
    s.answered(alice, members[2])
    s.order(list(members), mallory)
    assert alice.sticky_key != mallory.sticky_key
    assert s.pinned(mallory.sticky_key) is None  # type: ignore[attr-defined]
    s.answered(mallory, members[3])  # mallory's pin moves nothing of alice's
    assert s.pinned(alice.sticky_key) is members[2]  # type: ignore[attr-defined]
    for big in (_session("x" * 8192), call(prompt_cache_key="y" * 100_000)):
        s.order(list(members), big)
        assert big.sticky_key is not None and len(big.sticky_key) < 32


def _keyed(sid: str, key_id: str) -> Call:
    c = _session(sid)
    c.key_id = key_id
    return c


def test_sticky_one_key_filling_the_table_pushes_out_only_its_own_pins() -> None:
    """Before: the table's oldest pin went whoever held it, so one key naming sessions in a
    loop pushed every other key's agents off their deployment (and its prompt cache)."""
    members = _members([{"provider": p} for p in "ab"])
    s = _strategy("sticky", members, max_entries=10)
    alice, bob = _keyed("agent-1", "key-alice"), _keyed("agent-1", "key-bob")
    for c in (alice, bob):
        s.order(list(members), c)
        s.answered(c, members[1])
    # A pin of a third key adopted from another replica counts against that key too.
    carol = _keyed("agent-9", "key-carol")
    s.order(list(members), carol)
    assert carol.sticky_key is not None
    s.adopt(Pin("", carol.sticky_key, members[1].spec.id, time.time() + 60))  # type: ignore[attr-defined]
    for i in range(1000):
        c = _keyed(f"flood-{i}", "key-mallory")
        s.order(list(members), c)
        s.answered(c, members[0])
    for c in (alice, bob, carol):
        assert s.pinned(c.sticky_key) is members[1]  # type: ignore[attr-defined]
    assert len(s.pins) == 10  # type: ignore[attr-defined]
    flood = [_keyed(f"flood-{i}", "key-mallory") for i in (0, 999)]
    for c in flood:
        s.order(list(members), c)
    assert s.pinned(flood[0].sticky_key) is None  # type: ignore[attr-defined]
    assert s.pinned(flood[1].sticky_key) is members[0]  # type: ignore[attr-defined]


def test_sticky_pin_owner_is_read_from_the_pin_key() -> None:
    c = _keyed("agent-1", "key:with:colons")
    assert client_key(c, StickyOptions()) is not None
    assert pin_owner(client_key(c, StickyOptions()) or "") == "key:with:colons"
    assert pin_owner("g:key-alice") == "g:key-alice"
    assert pin_owner("s::0123") == "" and pin_owner("s:legacy") == "" and pin_owner("") == ""


class Reverse(Strategy):
    name = "reverse"

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        return candidates[::-1]


def test_registry_by_name_and_by_import_path() -> None:
    assert set(STRATEGIES) == {
        "priority", "weighted", "round-robin", "least-busy", "latency", "cost", "sticky",
        "knn", "mlp", "svm", "logistic",  # learned (tests/unit/router)
    }  # fmt: skip
    for name in STRATEGIES:
        assert strategy_class(name).name == name
    cls = strategy_class("tests.unit.routing.test_strategies:Reverse")
    assert cls is Reverse
    with pytest.raises(UnknownStrategy):
        strategy_class("nope")
    with pytest.raises(UnknownStrategy):
        strategy_class("tests.unit.routing.test_strategies:Nothing")
    with pytest.raises(UnknownStrategy):
        strategy_class("tests.unit.routing.helpers:Clock")  # not a Strategy

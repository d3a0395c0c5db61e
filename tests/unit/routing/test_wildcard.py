"""A ``model: "*"`` deployment keeps one health record per model name, in a bounded table, and
a client's bad request is no verdict on the deployment (routing/plan.py, health/wildcard.py)."""

from __future__ import annotations

from typing import Any

from tests.unit.routing.helpers import Clock, call, error, ok, providers, runtime
from turnout.config.compile import DeploymentSpec
from turnout.routing.router import Router
from turnout.types import Call, Reply

Log = list[tuple[str, str, str]]


def _raw(models: dict[str, Any], keys: int = 1, **routing: Any) -> dict[str, Any]:
    def provider(name: str) -> dict[str, Any]:
        return {
            "type": "openai-compatible",
            "base_url": f"http://{name}.invalid/v1",
            "api_keys": [f"sk-{name}-key-{i}" for i in range(keys)],
        }

    raw: dict[str, Any] = {"providers": {n: provider(n) for n in "ab"}, "models": models}
    raw["routing"] = {"breaker": {"consecutive_failures": 2, "cooldown": 60}, **routing}
    return raw


WILD = {
    "w-*": {
        "deployments": [
            {"provider": "a", "model": "*", "priority": 0},
            {"provider": "b", "model": "*", "priority": 1},
        ]
    }
}


def _router(raw: dict[str, Any], script: Any) -> tuple[Router, Log, Clock]:
    rt = runtime(raw)
    log: Log = []
    clock = Clock()
    return Router(rt, providers(rt, {"a": script}, log), clock=clock), log, clock


def _fails(status: int, retry_after: str | None = None) -> Any:
    def script(d: DeploymentSpec, key: str, c: Call) -> Reply:
        if c.model != "w-bad":
            return ok()
        return error(status) if retry_after is None else error(status, retry_after=retry_after)

    return script


async def _where(router: Router, model: str) -> str:
    c = call(model)
    await router(c)
    assert c.deployment is not None
    return c.deployment


async def test_a_failing_model_cools_down_alone() -> None:
    router, _, _ = _router(_raw(WILD), _fails(500))
    for _ in range(4):
        assert await _where(router, "w-bad") == "b/w-bad"  # a/w-bad failed, then cooled down
    assert await _where(router, "w-good") == "a/w-good"
    assert router.board.deployments["a/*"].state == "active"
    table = router.board.wildcards["a/*"]
    assert table.records["w-bad"].state == "ejected"
    assert table.records["w-good"].state == "active"


async def test_a_rate_limited_model_keeps_the_key_for_the_others() -> None:
    router, _, _ = _router(_raw(WILD), _fails(429, retry_after="600"))
    assert await _where(router, "w-bad") == "b/w-bad"
    assert await _where(router, "w-bad") == "b/w-bad"  # its key waits out the Retry-After
    assert await _where(router, "w-good") == "a/w-good"
    (parent_key,) = router.board.deployments["a/*"].pool.keys
    assert parent_key.state == "active"


async def test_a_not_found_rule_does_not_count_for_a_name_the_client_chose() -> None:
    raw = _raw(WILD)
    raw["providers"]["a"]["error_rules"] = [{"status": 404, "reason": "server_error"}]
    router, _, _ = _router(raw, _fails(404))
    for _ in range(5):
        c = call("w-bad")
        reply = await router(c)
        assert (reply.status, c.attempts, c.deployment) == (404, 1, "a/w-bad")
    record = router.board.wildcards["a/*"].records["w-bad"]
    assert (record.state, record.consecutive, record.window_total) == ("active", 0, 0)


async def test_a_configured_model_still_fails_over_on_the_rule() -> None:
    gone = {"provider": "a", "model": "gone"}
    raw = _raw({"m": {"deployments": [gone, {"provider": "b", "model": "x", "priority": 1}]}})
    raw["providers"]["a"]["error_rules"] = [{"status": 404, "reason": "server_error"}]
    router, _, _ = _router(raw, lambda d, k, c: error(404))
    assert await _where(router, "m") == "b/x"


async def test_bad_requests_are_no_verdict_on_the_deployment() -> None:
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}})
    answers = [error(500), error(400), error(500)]
    router, _, clock = _router(raw, lambda d, k, c: answers.pop(0))
    for _ in range(3):
        await router(call())
    health = router.board.deployments["a/x"]
    # Two server errors with a bad request between them are still two in a row.
    assert health.state == "ejected"
    # A bad request during the half-open trial neither closes the breaker nor re-ejects it.
    clock.advance(61)
    answers[:] = [error(400), ok()]
    await router(call())
    assert health.state == "ejected" and not health.trial
    await router(call())
    assert health.state == "active"


async def test_the_deployments_limits_stay_shared_by_its_models() -> None:
    raw = _raw({"w-*": {"deployments": [{"provider": "a", "model": "*", "max_concurrent": 1}]}})
    router, _, _ = _router(raw, lambda d, k, c: ok())
    parent = router.board.deployments["a/*"]
    first = router.board.model_health(parent, "w-one")
    second = router.board.model_health(parent, "w-two")
    first.inflight += 1
    assert parent.inflight == 1
    assert not second.available(router.clock())
    first.leave()
    assert parent.inflight == 0 and second.available(router.clock())


async def test_model_names_are_bounded_least_recently_used_first() -> None:
    router, _, _ = _router(_raw(WILD, wildcard_models=4), _fails(500))
    await _where(router, "w-bad")
    await _where(router, "w-bad")
    for i in range(20):
        await _where(router, "w-bad")  # in use: never the one forgotten
        await _where(router, f"w-{i}")
    table = router.board.wildcards["a/*"]
    assert len(table.records) == 4 and "w-bad" in table.records
    assert table.records["w-bad"].state == "ejected"
    plan = router.plans["w-*"]
    assert plan.views is not None and len(plan.views.table) == 4
    assert table.report(router.clock())["evictions"] == 17


async def test_a_route_without_wildcards_has_no_views() -> None:
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}})
    router, _, _ = _router(raw, lambda d, k, c: ok())
    assert router.plans["m"].views is None and router.board.wildcards == {}


async def test_a_sticky_pin_holds_on_a_wildcard_route_also_when_adopted() -> None:
    import time

    from turnout.routing.strategies.sticky import Sticky, client_key
    from turnout.shared.port import Pin

    raw = _raw({"w-*": {**WILD["w-*"], "strategy": "sticky"}})
    router, _, _ = _router(raw, lambda d, k, c: ok())
    strategy = router.plans["w-*"].strategy
    assert isinstance(strategy, Sticky)

    def session(model: str) -> Call:
        c = call(model)
        c.headers = {b"x-session-id": b"agent-1"}
        return c

    key = client_key(session("w-one"), strategy.opts)
    assert key is not None
    # Another replica pinned the agent to the second deployment (shared.backend: redis).
    strategy.adopt(Pin("w-*", key, "b/*", time.time() + 600))
    for model in ("w-one", "w-two", "w-one"):
        c = session(model)
        await router(c)
        assert c.deployment == f"b/{model}"


async def test_a_per_model_record_takes_no_shared_trial() -> None:
    from turnout.routing.admit import GO, admit

    class Trials:
        taken: list[str] = []

        async def take(self, target: Any, now: float) -> bool:
            self.taken.append(target.id)
            return False  # another replica holds every lease

    router, _, clock = _router(_raw(WILD), lambda d, k, c: ok())
    parent = router.board.deployments["a/*"]
    record = router.board.model_health(parent, "w-one")
    record.eject(clock(), "server_error")
    (key,) = record.pool.keys
    key.eject(clock(), "server_error")
    clock.advance(61)
    trials = Trials()
    # Kept by this process alone: its trial is this process's, never refused by a lease
    # whose outcome would never be shared back.
    assert await admit(record, key, call("w-one"), clock(), trials) == GO  # type: ignore[arg-type]
    assert trials.taken == []

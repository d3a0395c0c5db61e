"""The router's decisions, in process, with scripted providers and a controlled clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.unit.routing.helpers import Clock, call, error, ok, providers, runtime, stream
from turnout.auth.principal import Principal
from turnout.errors import (
    BadRequest,
    DeadlineExceeded,
    KeysRejected,
    NoHealthyDeployment,
    RateLimited,
    UpstreamGaveUp,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from turnout.routing.deadline import Deadlines
from turnout.routing.router import Router
from turnout.types import Reply

Log = list[tuple[str, str, str]]


def _raw(models: dict[str, Any], keys: int = 1, **routing: Any) -> dict[str, Any]:
    def provider(name: str) -> dict[str, Any]:
        return {
            "type": "openai-compatible",
            "base_url": f"http://{name}.invalid/v1",
            "api_keys": [f"sk-{name}-key-{i}" for i in range(keys)],
        }

    raw: dict[str, Any] = {"providers": {n: provider(n) for n in "abc"}, "models": models}
    if routing:
        raw["routing"] = routing
    return raw


def _router(raw: dict[str, Any], scripts: dict[str, Any]) -> tuple[Router, Log, Clock]:
    rt = runtime(raw)
    log: Log = []
    clock = Clock()
    return Router(rt, providers(rt, scripts, log), clock=clock), log, clock


def _header(reply: Reply, name: bytes) -> bytes | None:
    return next((v for k, v in reply.headers if k == name), None)


TIERS = {
    "m": {
        "deployments": [
            {"provider": "a", "model": "up-a", "priority": 0},
            {"provider": "b", "model": "up-b", "priority": 1},
        ]
    }
}


async def test_single_deployment_answers_with_one_attempt() -> None:
    router, log, _ = _router(_raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}}), {})
    c = call()
    reply = await router(c)
    assert reply.status == 200
    assert (c.deployment, c.attempts) == ("a/x", 1)
    assert log == [("a", "x", "sk-a-key-0")]
    assert router.board.deployments["a/x"].inflight == 0


async def test_server_error_fails_over_to_the_next_tier() -> None:
    router, log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: error(500)})
    c = call()
    reply = await router(c)
    assert reply.status == 200
    assert [p for p, _, _ in log] == ["a", "b"]
    assert (c.deployment, c.attempts) == ("b/up-b", 2)


@pytest.mark.parametrize(
    "exc", [UpstreamUnavailable("refused"), UpstreamTimeout("slow")], ids=["refused", "timeout"]
)
async def test_transport_errors_fail_over(exc: Exception) -> None:
    router, log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: exc})
    assert (await router(call())).status == 200
    assert [p for p, _, _ in log] == ["a", "b"]


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_client_errors_return_at_once_without_cooldown(status: int) -> None:
    router, log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: error(status)})
    for _ in range(10):
        c = call()
        reply = await router(c)
        assert reply.status == status
        assert _header(reply, b"x-should-retry") == b"false"
        assert c.attempts == 1
    assert [p for p, _, _ in log] == ["a"] * 10
    health = router.board.deployments["a/up-a"]
    assert health.state == "active" and health.consecutive == 0


async def test_invalid_key_marks_it_and_tries_another_key() -> None:
    def script(d: Any, key: str, c: Any) -> Reply:
        return error(401) if key.endswith("0") else ok()

    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}}, keys=2)
    router, log, _ = _router(raw, {"a": script})
    for _ in range(4):
        assert (await router(call())).status == 200
    # key 0 failed once, then is skipped: 5 attempts for 4 requests.
    assert [k for _, _, k in log].count("sk-a-key-0") == 1
    bad = next(k for k in router.board.all_keys() if k.secret.endswith("0"))
    assert bad.state == "invalid"


async def test_no_quota_rule_from_default_openai_rules() -> None:
    quota = error(429, {"error": {"code": "insufficient_quota", "message": "out"}})
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}}, keys=2)
    router, _, _ = _router(raw, {"a": lambda d, k, c: quota if k.endswith("0") else ok()})
    await router(call())
    await router(call())
    states = {k.secret[-1]: k.state for k in router.board.all_keys()}
    assert states == {"0": "no_quota", "1": "active"}


async def test_rate_limit_cools_the_key_and_the_client_gets_429_with_retry_after() -> None:
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}})
    router, log, clock = _router(raw, {"a": lambda d, k, c: error(429, retry_after="7")})
    reply = await router(call())
    assert reply.status == 429
    assert _header(reply, b"retry-after") == b"7"
    key = next(router.board.all_keys())
    assert key.state == "rate_limited" and key.until - clock() == pytest.approx(7)
    # Nothing else can serve: the next request is refused fast, without an upstream call.
    with pytest.raises(RateLimited) as info:
        await router(call())
    assert info.value.retry_after is not None and info.value.retry_after >= 6.9
    assert len(log) == 1
    clock.advance(7.5)
    assert (await router(call())).status == 429  # a trial after the cooldown
    assert len(log) == 2


async def test_an_upstreams_retry_after_cools_a_key_for_at_most_the_cap() -> None:
    """``Retry-After: 1e12`` (or ``inf``, or a date in 9999) must not retire a key for good."""
    raw = _raw(
        {"m": {"deployments": [{"provider": "a", "model": "x"}]}},
        cooldowns={"max_retry_after": 120},
    )
    router, log, clock = _router(raw, {"a": lambda d, k, c: error(429, retry_after="1e12")})
    assert (await router(call())).status == 429
    key = next(router.board.all_keys())
    assert key.state == "rate_limited" and key.until - clock() == pytest.approx(120)
    clock.advance(121)
    assert (await router(call())).status == 429  # tried again once the cap is over
    assert len(log) == 2


async def test_rate_limit_fails_over_to_another_deployment() -> None:
    router, log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: error(429)})
    assert (await router(call())).status == 200
    assert (await router(call())).status == 200
    assert [p for p, _, _ in log] == ["a", "b", "b"]  # a cools down for the default 5 s


async def test_overloaded_retries_same_deployment_then_fails_over() -> None:
    raw = _raw(TIERS, backoff={"base": 0.001, "max": 0.002}, max_attempts=5)
    router, log, _ = _router(raw, {"a": lambda d, k, c: error(529)})
    assert (await router(call())).status == 200
    assert [p for p, _, _ in log] == ["a", "a", "b"]


async def test_breaker_ejects_then_half_open_trial_decides() -> None:
    failing = {"on": True}
    raw = _raw(
        {"m": {"deployments": [{"provider": "a", "model": "x"}]}},
        breaker={"consecutive_failures": 3, "cooldown": 10, "max_cooldown": 100},
    )
    router, log, clock = _router(raw, {"a": lambda d, k, c: error(500) if failing["on"] else ok()})
    for _ in range(3):
        assert (await router(call())).status == 500
    health = router.board.deployments["a/x"]
    assert health.state == "ejected"
    with pytest.raises(NoHealthyDeployment) as info:
        await router(call())
    assert info.value.retry_after == pytest.approx(10)
    assert len(log) == 3
    # After the cooldown one trial goes through; failing again doubles the cooldown.
    clock.advance(10)
    assert (await router(call())).status == 500
    assert health.state == "ejected" and health.until - clock() == pytest.approx(20)
    clock.advance(20)
    failing["on"] = False
    assert (await router(call())).status == 200
    assert health.state == "active"
    assert len(log) == 5


async def test_half_open_lets_exactly_one_trial_through() -> None:
    gate = asyncio.Event()

    async def slow(d: Any, k: Any, c: Any) -> Reply:
        await gate.wait()
        return ok()

    raw = _raw(TIERS, breaker={"consecutive_failures": 1, "cooldown": 5})
    router, _log, clock = _router(raw, {"a": slow})
    health = router.board.deployments["a/up-a"]
    health.eject(clock(), "server_error")
    clock.advance(5)
    trial = asyncio.ensure_future(router(call()))
    await asyncio.sleep(0.01)
    assert health.trial
    other = call()
    assert (await router(other)).status == 200 and other.deployment == "b/up-b"
    gate.set()
    await trial
    assert health.state == "active" and not health.trial


async def test_fallback_model_when_every_deployment_fails() -> None:
    models = {
        "m": {"deployments": [{"provider": "a", "model": "x"}], "fallbacks": ["other"]},
        "other": {"deployments": [{"provider": "b"}]},  # "*": forwards the fallback's name
    }
    router, log, _ = _router(_raw(models), {"a": lambda d, k, c: UpstreamUnavailable("down")})
    c = call()
    assert (await router(c)).status == 200
    assert log[-1] == ("b", "other", "sk-b-key-0")
    assert c.deployment == "b/other" and c.fallback == "other"


async def test_a_keys_models_bound_its_fallbacks() -> None:
    """Before: a key allowed only ``m`` was served by ``other``, a model it may not use, once
    ``m``'s deployments failed: the route's fallbacks were a way round the key's list."""
    models = {
        "m": {"deployments": [{"provider": "a", "model": "x"}], "fallbacks": ["other", "m2"]},
        "other": {"deployments": [{"provider": "b"}]},
        "m2": {"deployments": [{"provider": "c"}]},
    }
    down = {"a": lambda d, k, c: UpstreamUnavailable("down")}
    router, log, _ = _router(_raw(models), down)
    c = call()
    c.principal = Principal("k1", None, None, key_models=("m", "m2"))
    assert (await router(c)).status == 200
    assert c.fallback == "m2" and [entry[0] for entry in log] == ["a", "c"]
    only = call()
    only.principal = Principal("k2", None, None, key_models=("m",))
    with pytest.raises(UpstreamUnavailable):
        await router(only)
    assert only.fallback is None and log[-1][0] == "a"


async def test_context_length_goes_to_context_fallbacks_only() -> None:
    too_long = error(400, {"error": {"code": "context_length_exceeded", "message": "long"}})
    models = {
        "m": {
            "deployments": [{"provider": "a", "model": "x"}],
            "fallbacks": ["f"],
            "context_fallbacks": ["big"],
        },
        "f": {"deployments": [{"provider": "b", "model": "f"}]},
        "big": {"deployments": [{"provider": "c", "model": "big"}]},
    }
    router, log, _ = _router(_raw(models), {"a": lambda d, k, c: too_long})
    assert (await router(call())).status == 200
    assert [p for p, _, _ in log] == ["a", "c"]


async def test_all_cooling_without_fallback_is_a_fast_503() -> None:
    router, log, clock = _router(_raw(TIERS), {})
    for h in router.board.deployments.values():
        h.eject(clock(), "server_error")
    with pytest.raises(NoHealthyDeployment) as info:
        await router(call())
    assert info.value.headers()[0] == (b"x-should-retry", b"true")
    assert dict(info.value.headers())[b"retry-after"] == b"5"
    assert log == []


async def test_deadline_bounds_the_whole_request() -> None:
    async def hang(d: Any, k: Any, c: Any) -> Reply:
        await asyncio.sleep(10)
        return ok()

    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}], "deadline": 0.05}})
    router, _, _ = _router(raw, {"a": hang})
    with pytest.raises(DeadlineExceeded) as info:
        await router(call())
    assert dict(info.value.headers())[b"x-should-retry"] == b"false"
    health = router.board.deployments["a/x"]
    assert health.inflight == 0 and health.state == "active"  # the deadline is not its fault


async def test_max_attempts_bounds_failover() -> None:
    models = {"m": {"deployments": [{"provider": p, "model": "x"} for p in "abc"]}}
    raw = _raw(models, max_attempts=2)
    router, log, _ = _router(raw, {p: (lambda d, k, c: UpstreamUnavailable("no")) for p in "abc"})
    with pytest.raises(UpstreamGaveUp) as info:
        await router(call())
    assert len(log) == 2
    assert dict(info.value.headers())[b"x-should-retry"] == b"false"


async def test_single_attempt_transport_error_keeps_its_retry_hint() -> None:
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}})
    router, _, _ = _router(raw, {"a": lambda d, k, c: UpstreamUnavailable("no")})
    with pytest.raises(UpstreamUnavailable) as info:
        await router(call())
    assert not isinstance(info.value, UpstreamGaveUp)


async def test_retry_budget_refuses_retries_beyond_its_share() -> None:
    raw = _raw(TIERS, retry_budget={"ratio": 0.0, "min_retries": 0})
    router, log, _ = _router(raw, {"a": lambda d, k, c: error(500)})
    reply = await router(call())
    assert reply.status == 500 and len(log) == 1
    assert router.budget_refusals == 1
    assert _header(reply, b"x-should-retry") == b"false"  # the SDK must not retry either


async def test_max_concurrent_refuses_instead_of_queueing() -> None:
    gate = asyncio.Event()

    async def slow(d: Any, k: Any, c: Any) -> Reply:
        await gate.wait()
        return ok()

    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x", "max_concurrent": 2}]}})
    router, _, _ = _router(raw, {"a": slow})
    running = [asyncio.ensure_future(router(call())) for _ in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimited) as info:
        await router(call())
    assert info.value.retry_after == 1
    gate.set()
    assert all(r.status == 200 for r in await asyncio.gather(*running))
    assert router.board.deployments["a/x"].inflight == 0


async def test_rpm_limit_spreads_to_the_next_deployment() -> None:
    models = {
        "m": {
            "deployments": [
                {"provider": "a", "model": "x", "rpm": 2},
                {"provider": "b", "model": "y", "priority": 1},
            ]
        }
    }
    router, log, _ = _router(_raw(models), {})
    for _ in range(4):
        await router(call())
    assert [p for p, _, _ in log] == ["a", "a", "b", "b"]


async def test_stream_failure_before_first_chunk_fails_over() -> None:
    boom = UpstreamUnavailable("reset")
    scripts = {
        "a": lambda d, k, c: stream(fail_after=boom),
        "b": lambda d, k, c: stream(b"data: ok\n\n"),
    }
    router, _log, _ = _router(_raw(TIERS), scripts)
    c = call(stream=True)
    reply = await router(c)
    assert reply.chunks is not None
    assert [chunk async for chunk in reply.chunks] == [b"data: ok\n\n"]
    assert c.deployment == "b/up-b" and c.attempts == 2
    assert router.board.deployments["b/up-b"].inflight == 0


async def test_stream_failure_after_first_chunk_is_the_clients_and_counts() -> None:
    boom = UpstreamUnavailable("reset")
    raw = _raw(TIERS, breaker={"consecutive_failures": 1})
    router, log, _ = _router(raw, {"a": lambda d, k, c: stream(b"one", fail_after=boom)})
    reply = await router(call(stream=True))
    assert reply.chunks is not None
    got = []
    with pytest.raises(UpstreamUnavailable):
        async for chunk in reply.chunks:
            got.append(chunk)
    assert got == [b"one"]
    health = router.board.deployments["a/up-a"]
    assert health.inflight == 0 and health.state == "ejected"
    assert len(log) == 1  # never a silent switch


async def test_stream_released_even_if_never_iterated() -> None:
    router, _, _ = _router(_raw(TIERS), {"a": lambda d, k, c: stream(b"one", b"two")})
    reply = await router(call(stream=True))
    health = router.board.deployments["a/up-a"]
    assert health.inflight == 1
    assert reply.chunks is not None
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    assert health.inflight == 0


async def test_empty_stream_fails_over() -> None:
    router, _log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: stream()})
    c = call(stream=True)
    await router(c)
    assert c.deployment == "b/up-b"


async def test_request_errors_from_a_provider_are_raised_not_retried() -> None:
    router, log, _ = _router(_raw(TIERS), {"a": lambda d, k, c: BadRequest("cannot translate")})
    with pytest.raises(BadRequest):
        await router(call())
    assert len(log) == 1 and router.board.deployments["a/up-a"].inflight == 0


async def test_glob_models_resolve_and_forward_the_requested_name() -> None:
    raw = _raw({"gpt-*": {"deployments": [{"provider": "a"}]}})
    router, log, _ = _router(raw, {})
    c = call("gpt-9")
    await router(c)
    assert log == [("a", "gpt-9", "sk-a-key-0")] and c.deployment == "a/gpt-9"


async def test_keys_rotate_across_requests() -> None:
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}}, keys=3)
    router, log, _ = _router(raw, {})
    for _ in range(6):
        await router(call())
    assert [k[-1] for _, _, k in log] == ["0", "1", "2", "0", "1", "2"]


async def test_shared_key_status_is_one_state_across_models() -> None:
    raw = _raw(
        {
            "m1": {"deployments": [{"provider": "a", "model": "x"}]},
            "m2": {"deployments": [{"provider": "a", "model": "y"}]},
        }
    )
    raw["providers"]["a"]["shared_key_status"] = True
    router, log, _ = _router(raw, {"a": lambda d, k, c: error(401)})
    with pytest.raises(KeysRejected):
        await router(call("m1"))
    with pytest.raises(KeysRejected):
        await router(call("m2"))  # the key is invalid for the whole provider
    assert len(log) == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_provider_keys_are_not_passed_through_as_client_auth_errors(
    status: int,
) -> None:
    leak = error(status, {"error": {"message": "Incorrect API key provided: sk-a***0"}})
    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}})
    router, log, _ = _router(raw, {"a": lambda d, k, c: leak})
    with pytest.raises(KeysRejected) as info:
        await router(call())
    assert info.value.status == 503 and "sk-a" not in info.value.message
    assert dict(info.value.headers())[b"x-should-retry"] == b"false"
    with pytest.raises(KeysRejected) as info:
        await router(call())  # marked: refused without an upstream call
    assert info.value.retry_after == pytest.approx(60)
    assert len(log) == 1


async def test_the_deadline_does_not_cut_a_committed_stream() -> None:
    async def late_chunks(d: Any, k: Any, c: Any) -> Reply:
        async def gen() -> Any:
            yield b"first"
            await asyncio.sleep(0.15)  # well past the deadline
            yield b"second"

        return Reply(200, [], chunks=gen())

    raw = _raw({"m": {"deployments": [{"provider": "a", "model": "x"}], "deadline": 0.05}})
    router, _, _ = _router(raw, {"a": late_chunks})
    reply = await router(call(stream=True))
    assert reply.chunks is not None
    assert [chunk async for chunk in reply.chunks] == [b"first", b"second"]


async def test_the_deadline_covers_fallbacks_and_backoff() -> None:
    async def hang(d: Any, k: Any, c: Any) -> Reply:
        await asyncio.sleep(10)
        return ok()

    models = {
        "m": {
            "deployments": [{"provider": "a", "model": "x"}],
            "fallbacks": ["f"],
            "deadline": 0.1,
        },
        "f": {"deployments": [{"provider": "b", "model": "y"}]},
    }
    router, log, _ = _router(_raw(models), {"a": lambda d, k, c: error(500), "b": hang})
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeadlineExceeded):
        await router(call())
    assert asyncio.get_running_loop().time() - started < 0.5
    assert [p for p, _, _ in log] == ["a", "b"]
    assert router.board.deployments["b/y"].inflight == 0


async def test_a_cancelled_request_releases_its_slot_and_stays_cancelled() -> None:
    async def hang(d: Any, k: Any, c: Any) -> Reply:
        await asyncio.sleep(10)
        return ok()

    router, _, _ = _router(_raw(TIERS), {"a": hang})
    task = asyncio.ensure_future(router(call()))
    await asyncio.sleep(0.01)
    task.cancel()  # the client went away: not a deadline
    with pytest.raises(asyncio.CancelledError):
        await task
    health = router.board.deployments["a/up-a"]
    assert health.inflight == 0 and health.consecutive == 0


def test_a_router_serves_calls_on_a_later_loop() -> None:
    """The router remembers the loop it first ran on (asked once: on Python 3.11 each question
    is a system call); a call on another loop is still routed, and its own task is the one
    the deadline watches."""
    router, _, _ = _router(_raw({"m": {"deployments": [{"provider": "a", "model": "x"}]}}), {})
    seen: list[bool] = []

    class Watching(Deadlines):
        def enter(self, task: asyncio.Task[object], deadline: float) -> None:
            seen.append(task is asyncio.current_task())
            super().enter(task, deadline)

    async def once() -> None:
        router.deadlines = Watching()
        assert (await router(call())).status == 200
        await router.deadlines.aclose()

    for _ in range(2):
        asyncio.run(once())
    assert seen == [True, True]

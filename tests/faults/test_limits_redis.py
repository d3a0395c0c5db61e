"""docs/reliability.md row 15 for limits: Redis goes away under a running gateway.

``on_redis_error: allow`` keeps serving with a local limiter (never unlimited), ``deny``
answers 503 with ``Retry-After``; both log the outage once and return to Redis by themselves.
Each test runs its own ``redis-server`` on a free port and stops it mid-test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.test_auth import ADMIN, MASTER, new_key
from tests.integration.test_limits import limits_config
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import PrivateRedis

RETRY_AFTER = 0.5
# Long enough that every call of an outage meets the open circuit however slow the machine;
# the test then waits for the circuit's retry as a condition, not a sleep.
OUTAGE_RETRY = 5.0
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


def gateway(
    mock: Proc,
    redis: PrivateRedis,
    tmp: Path,
    policy: str,
    retry_after: float = RETRY_AFTER,
    **extra: Any,
) -> Proc:
    limits = {
        "backend": "redis",
        "redis_url": redis.url,
        "on_redis_error": policy,
        "redis_timeout": 0.1,
        "redis_retry_after": retry_after,
        **extra,
    }
    return start_gateway(
        limits_config(mock, limits=limits), tmp, env={"TURNOUT_MASTER_KEY": MASTER}
    )


def priced_call(gw: Proc, key: str) -> int:
    """One call of the priced model (a token's price) with ``key``: its status."""
    body = {**BODY, "model": "priced", "max_tokens": 1}
    headers = {"authorization": f"Bearer {key}", "x-mock-tokens": "1"}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers).status_code


def call(gw: Proc, key: str) -> tuple[int, httpx.Headers]:
    resp = httpx.post(
        gw.url + "/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"}
    )
    return resp.status_code, resp.headers


def redis_failures(gw: Proc) -> float:
    """``turnout_limits_redis_failures_total``: calls to the limits' Redis that failed."""
    metrics = httpx.get(gw.url + "/metrics", headers=ADMIN).text
    line = next(x for x in metrics.splitlines() if x.startswith("turnout_limits_redis_failures_"))
    return float(line.split()[-1])


def redis_keys(redis: PrivateRedis) -> list[bytes]:
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    try:
        return [k if isinstance(k, bytes) else k.encode() for k in client.keys("turnout:limits:*")]
    finally:
        client.close()


def test_allow_serves_with_a_local_limiter_and_recovers(
    mock: Proc, redis: PrivateRedis, tmp_path: Path
) -> None:
    gw = gateway(mock, redis, tmp_path, "allow", retry_after=OUTAGE_RETRY)
    try:
        key, _ = new_key(gw, rpm=6)
        assert [call(gw, key)[0] for _ in range(2)] == [200, 200]
        assert redis_keys(redis)  # counted in Redis
        assert redis_failures(gw) == 0

        redis.stop()
        outage = [call(gw, key)[0] for _ in range(8)]
        # Never unlimited: this process enforces the 6 per minute on its own.
        assert outage == [200] * 6 + [429] * 2
        # One call tried Redis and opened the circuit; the other seven were counted locally
        # without touching the network.
        assert redis_failures(gw) == 1
        assert gw.output().count("limits redis unavailable") == 1

        redis.start()  # same port, empty
        # Until the retry time the local count (spent) refuses; the first call after it goes
        # to Redis, whose counters start afresh.
        until(lambda: call(gw, key)[0] == 200, OUTAGE_RETRY + 30, step=0.1)
        assert redis_keys(redis)
        assert "limits redis reachable again" in gw.output()
        assert redis_failures(gw) == 1
    finally:
        gw.stop()


def test_deny_answers_503_then_recovers(mock: Proc, redis: PrivateRedis, tmp_path: Path) -> None:
    gw = gateway(mock, redis, tmp_path, "deny")
    try:
        key, _ = new_key(gw, rpm=100)
        client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
        assert client.chat.completions.create(model="gpt-test", messages=BODY["messages"])  # type: ignore[arg-type]

        redis.stop()
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="gpt-test", messages=BODY["messages"])  # type: ignore[arg-type]
        assert caught.value.status_code == 503
        assert caught.value.response.headers["retry-after"] == "1"
        assert caught.value.code == "limits_unavailable"
        # A key without limits never touches Redis: it keeps working.
        free, _ = new_key(gw)
        assert call(gw, free)[0] == 200

        redis.start()
        # Refused at once while the circuit is open; after RETRY_AFTER one call tries Redis.
        until(lambda: call(gw, key)[0] == 200)
    finally:
        gw.stop()


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_an_admission_redis_answers_too_late_leaves_no_slot_or_reservation_behind(
    mock: Proc, tmp_path: Path, policy: str
) -> None:
    """Redis stalls (``DEBUG SLEEP``) past ``redis_timeout``: the gateway gives the admission
    up and follows the policy, but Redis still runs the script once it wakes. Before, the slot
    and the budget reservation it took belonged to no call and stayed for the whole lease: a
    ``max_parallel: 1`` key was refused every call (429 "1 requests in flight") after Redis had
    recovered, with nothing in flight, and its budget showed $0.10 reserved. Now the gateway
    takes them back once Redis answers again."""
    redis = PrivateRedis(None, "--enable-debug-command", "yes").start()
    # A lease of a quarter of an hour: only the fix frees the slot within the test.
    gw = gateway(mock, redis, tmp_path, policy, lease=900)
    try:
        key, key_id = new_key(gw, max_parallel=1, budget=100, budget_period="day")

        def status() -> int:
            return priced_call(gw, key)

        def reserved() -> float:
            body = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
            return float(body["spend"]["reserved"])

        assert status() == 200
        until(lambda: reserved() == 0, 10)  # settled before the stall
        import redis as redis_py

        def stall() -> None:
            with redis_py.Redis.from_url(redis.url) as conn:
                conn.execute_command("DEBUG", "SLEEP", "3")

        sleeper = threading.Thread(target=stall)
        sleeper.start()
        # A call meets the stalled Redis: its admission times out and the policy applies.
        until(lambda: status() in (200, 503) and redis_failures(gw) >= 1, 10)
        sleeper.join()
        until(lambda: status() == 200, 30, step=0.2)
        until(lambda: reserved() == 0, 10)
        assert "limits redis reachable again" in gw.output()
    finally:
        gw.stop()
        redis.stop()


def test_spend_counted_locally_during_a_stall_reaches_the_shared_budget(
    mock: Proc, tmp_path: Path
) -> None:
    """``allow``: while Redis stalls, calls are admitted and charged by the process's local
    limiter. Before, that spend never reached Redis: after 3 calls before and 10 during a
    3-second stall (and 2 after), the shared budget said $0.50 spent of the $1.50, for good —
    every replica could spend the difference again. Now it is added once Redis answers."""
    redis = PrivateRedis(None, "--enable-debug-command", "yes").start()
    gw = gateway(mock, redis, tmp_path, "allow")
    try:
        key, key_id = new_key(gw, budget=100, budget_period="day")
        served = 0

        def status() -> int:
            nonlocal served
            code = priced_call(gw, key)
            served += code == 200
            return code

        def spend() -> dict[str, float]:
            shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()["spend"]
            return {"spent": round(shown["spent"], 6), "reserved": shown["reserved"]}

        assert [status() for _ in range(3)] == [200] * 3
        until(lambda: spend() == {"spent": 0.3, "reserved": 0}, 10)
        import redis as redis_py

        def stall() -> None:
            with redis_py.Redis.from_url(redis.url) as conn:
                conn.execute_command("DEBUG", "SLEEP", "3")

        sleeper = threading.Thread(target=stall)
        sleeper.start()
        until(lambda: status() == 200 and redis_failures(gw) >= 1, 10)
        while sleeper.is_alive():  # calls admitted and charged locally meanwhile
            assert status() == 200
        sleeper.join()
        assert [status() for _ in range(2)] == [200] * 2
        # Every call served is in the shared spend: $0.10 each.
        until(lambda: spend() == {"spent": round(served * 0.1, 6), "reserved": 0}, 15)
    finally:
        gw.stop()
        redis.stop()


def test_a_flushed_redis_gets_a_budgets_spend_back_at_the_next_call(
    mock: Proc, redis: PrivateRedis, tmp_path: Path
) -> None:
    """Redis loses its data (``FLUSHALL``; a restart without persistence or a failover does
    the same). Before, a $1 budget with $0.70 spent admitted 10 more calls of $0.10 until the
    next seeding from the request log, and ended $0.70 past its budget ($1.70). Now the first
    call after the loss sees the spend lower than it ever was and puts back what the gateway
    had seen: the budget ends at most one call past its amount."""
    gw = gateway(mock, redis, tmp_path, "deny")
    try:
        key, key_id = new_key(gw, budget=1, budget_period="day")

        def status() -> int:
            return priced_call(gw, key)

        def spent() -> float:
            shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()["spend"]
            return round(float(shown["spent"]), 6) if shown["reserved"] == 0 else -1.0

        assert [status() for _ in range(7)] == [200] * 7
        until(lambda: spent() == 0.7, 10)
        import redis as redis_py

        with redis_py.Redis.from_url(redis.url) as conn:
            conn.flushall()
        after = [status() for _ in range(12)]
        assert after.count(200) <= 4 and after[-1] == 429, after  # 3 within the budget, 1 past
        until(lambda: 0 < spent() <= 1.1 + 1e-9, 10)
        assert "lost a budget's spend" in gw.output()
    finally:
        gw.stop()

"""docs/reliability.md row 15 for limits: Redis goes away under a running gateway.

``on_redis_error: allow`` keeps serving with a local limiter (never unlimited), ``deny``
answers 503 with ``Retry-After``; both log the outage once and return to Redis by themselves.
Each test runs its own ``redis-server`` on a free port and stops it mid-test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.test_auth import MASTER, new_key
from tests.integration.test_limits import limits_config
from tests.support.procs import Proc, start_gateway
from tests.unit.cache.redis_support import PrivateRedis

RETRY_AFTER = 0.5
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


def gateway(mock: Proc, redis: PrivateRedis, tmp: Path, policy: str) -> Proc:
    limits = {
        "backend": "redis",
        "redis_url": redis.url,
        "on_redis_error": policy,
        "redis_timeout": 0.1,
        "redis_retry_after": RETRY_AFTER,
    }
    return start_gateway(
        limits_config(mock, limits=limits), tmp, env={"TURNOUT_MASTER_KEY": MASTER}
    )


def call(gw: Proc, key: str) -> tuple[int, httpx.Headers, float]:
    started = time.perf_counter()
    resp = httpx.post(
        gw.url + "/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"}
    )
    return resp.status_code, resp.headers, time.perf_counter() - started


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
    gw = gateway(mock, redis, tmp_path, "allow")
    try:
        key, _ = new_key(gw, rpm=6)
        assert [call(gw, key)[0] for _ in range(2)] == [200, 200]
        assert redis_keys(redis)  # counted in Redis

        redis.stop()
        outage = [call(gw, key) for _ in range(8)]
        # Never unlimited: this process enforces the 6 per minute on its own.
        assert [s for s, _, _ in outage] == [200] * 6 + [429] * 2
        assert max(t for _, _, t in outage) < 0.5  # one short timeout at most, then local
        assert gw.output().count("limits redis unavailable") == 1

        redis.start()  # same port, empty
        time.sleep(RETRY_AFTER + 0.1)
        assert call(gw, key)[0] == 200  # Redis again: its counters start afresh
        assert redis_keys(redis)
        assert "limits redis reachable again" in gw.output()
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
        time.sleep(RETRY_AFTER + 0.1)
        assert call(gw, key)[0] == 200
    finally:
        gw.stop()

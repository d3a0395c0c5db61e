"""docs/reliability.md row 18 and the cache's side of row 15: a Redis outage degrades the
gateway to no caching, never to errors or slow requests, and the cache comes back by itself.

Each test runs its own ``redis-server`` on a free port (never the machine's shared one) and
stops or freezes it mid-test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_cache import ask_anthropic, ask_openai, cache_config, nonce, settle
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import PrivateRedis

RETRY_AFTER = 0.5
FROZEN_RETRY = 10.0  # long enough that the follow-up requests all meet the open circuit


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def gw(mock: Proc, redis: PrivateRedis, tmp_path: Path) -> Iterator[Proc]:
    config = cache_config(
        mock, "redis", redis_url=redis.url, redis_timeout=0.1, redis_retry_after=RETRY_AFTER
    )
    proc = start_gateway(config, tmp_path)
    yield proc
    proc.stop()


def stats(gw: Proc) -> dict[str, object]:
    data: dict[str, object] = httpx.get(gw.url + "/admin/cache/stats").json()
    return data


def test_redis_stopped_mid_test_degrades_then_recovers(gw: Proc, redis: PrivateRedis) -> None:
    q = nonce()
    assert ask_openai(gw, q)[0] == "miss"
    settle(gw)
    assert ask_openai(gw, q)[0] == "hit"

    redis.stop()
    for stream in (False, True, False, True):
        state, _, text = ask_openai(gw, q, stream=stream)
        assert state == "bypass" and text, "an outage serves uncached, never an error"
    assert ask_anthropic(gw, nonce(), stream=True)[0] == "bypass"
    assert stats(gw)["available"] is False
    purge = httpx.delete(gw.url + "/admin/cache")
    assert purge.status_code == 503  # the admin is told; requests never are

    redis.start()  # same port, empty
    until(lambda: stats(gw)["available"] is True)  # after RETRY_AFTER Redis is tried again
    assert ask_openai(gw, q)[0] == "miss"
    settle(gw)
    assert ask_openai(gw, q)[0] == "hit"
    assert stats(gw)["available"] is True


def test_frozen_redis_costs_one_timeout_then_nothing(
    mock: Proc, redis: PrivateRedis, tmp_path: Path
) -> None:
    """A Redis that accepts but never answers (SIGSTOP): the first request pays the short
    timeout and opens the circuit; the ones after it skip Redis until the circuit's retry time
    (counted, not timed: the store's failures stay at one)."""
    config = cache_config(
        mock, "redis", redis_url=redis.url, redis_timeout=0.1, redis_retry_after=FROZEN_RETRY
    )
    gw = start_gateway(config, tmp_path)
    try:
        q = nonce()
        assert ask_openai(gw, q)[0] == "miss"
        settle(gw)
        assert stats(gw)["backend_failures"] == 0
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            for stream in (False, True, False, True):
                assert ask_openai(gw, q, stream=stream)[0] == "bypass"
            assert stats(gw)["backend_failures"] == 1, "only the first request waited for Redis"
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        # The entry survived the freeze: served again once the circuit lets Redis be tried.
        deadline = time.monotonic() + FROZEN_RETRY + 60
        while ask_openai(gw, q)[0] != "hit":
            assert time.monotonic() < deadline, "the cache never came back after the freeze"
            time.sleep(0.2)
    finally:
        gw.stop()

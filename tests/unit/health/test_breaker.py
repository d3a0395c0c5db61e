from __future__ import annotations

import pytest

from turnout.health.breaker import Breaker, BreakerPolicy, Journal


def _breaker(**policy: float) -> Breaker:
    return Breaker("t", BreakerPolicy(**policy), Journal())  # type: ignore[arg-type]


def test_consecutive_failures_eject_with_a_growing_cooldown() -> None:
    b = _breaker(consecutive_failures=3, cooldown=5, max_cooldown=30)
    assert not b.fail(0, "server_error") and not b.fail(0, "server_error")
    assert b.fail(0, "server_error")
    assert b.state == "ejected" and b.until == 5 and not b.usable(4.9) and b.usable(5)
    cooldowns = []
    for _ in range(4):
        now = b.until
        b.begin()  # the half-open trial
        assert b.trial and not b.usable(now)
        assert b.fail(now, "server_error")
        cooldowns.append(b.until - now)
    assert cooldowns == [10, 20, 30, 30]


def test_a_success_resets_the_count() -> None:
    b = _breaker(consecutive_failures=3, failure_rate=1.0)
    for _ in range(10):
        b.fail(0, "server_error")
        b.fail(0, "server_error")
        b.succeed(0)
    assert b.state == "active"


def test_failure_rate_over_the_window() -> None:
    b = _breaker(consecutive_failures=100, failure_rate=0.5, min_requests=10, window=30)
    for i in range(9):
        if i % 2:
            b.fail(i, "server_error")
        else:
            b.succeed(i)
    assert b.state == "active"
    b.fail(9, "server_error")  # 5 of 10
    assert b.state == "ejected"


def test_window_resets() -> None:
    b = _breaker(consecutive_failures=100, failure_rate=0.5, min_requests=4, window=10)
    b.fail(0, "x")
    b.fail(1, "x")
    for t in range(20, 23):
        b.succeed(t)
    b.fail(23, "x")  # 1 of 4 in the new window
    assert b.state == "active"


def test_trial_success_closes_and_late_results_do_not_flap() -> None:
    b = _breaker(consecutive_failures=1, cooldown=10)
    b.fail(0, "server_error")
    # Attempts that started before the ejection finish late: no re-ejection, no early close.
    b.fail(1, "server_error")
    assert b.ejections == 1
    b.succeed(2)
    assert b.state == "ejected"
    b.begin()
    b.succeed(10)
    assert b.state == "active" and not b.trial


def test_abandoned_trial_frees_the_slot() -> None:
    b = _breaker(consecutive_failures=1, cooldown=1)
    b.fail(0, "x")
    b.begin()
    assert not b.usable(2)
    b.abandon()
    assert b.usable(2)


def test_backoff_starts_afresh_after_a_long_healthy_spell() -> None:
    b = _breaker(consecutive_failures=1, cooldown=1, max_cooldown=4)
    b.fail(0, "x")
    b.begin()
    b.fail(1, "x")
    assert b.ejections == 2
    b.begin()
    b.succeed(3)
    b.fail(100, "x")
    assert b.ejections == 1 and b.until == 101


def test_transitions_are_journaled() -> None:
    b = _breaker(consecutive_failures=1, cooldown=2)
    b.fail(0, "server_error")
    b.begin()
    b.succeed(2)
    assert b.journal is not None
    events = list(b.journal.events)
    assert [(e[2], e[3], e[4]) for e in events] == [
        ("active", "ejected", "server_error"),
        ("ejected", "active", None),
    ]
    assert b in b.journal.dirty


def test_record_and_restore_use_wall_clock() -> None:
    b = _breaker(consecutive_failures=1, cooldown=30)
    b.fail(100.0, "server_error")
    record = b.record(now=110.0, wall=5000.0)
    assert record["until"] == pytest.approx(5020.0) and record["state"] == "ejected"
    other = _breaker()
    other.restore(record, now=7.0, wall=5010.0)  # another process, 10 s later
    assert other.state == "ejected" and other.until == pytest.approx(17.0)
    assert other.ejections == 1
    other.restore({"state": "bogus"}, 0, 0)
    assert other.state == "ejected"


def test_a_circuit_lets_one_trial_through_after_its_cooldown() -> None:
    from turnout.health.breaker import Circuit

    c = Circuit("redis", BreakerPolicy(cooldown=2, max_cooldown=2))  # no journal needed
    assert c.usable(0)
    c.eject(0, "unavailable")
    assert c.state == "ejected" and not c.usable(1.9) and c.usable(2)
    c.begin()
    assert c.trial and not c.usable(2)  # only the trial goes through
    c.abandon()  # cancelled: no verdict, the next call is the trial
    assert c.usable(2)
    c.begin()
    c.eject(2, "unavailable")  # the trial failed: open again, no growing backoff here
    assert c.until == 4 and not c.trial
    c.begin()
    c.close(4)
    assert c.state == "active" and c.usable(4)


def test_every_breaker_is_the_one_circuit() -> None:
    from turnout.cache.redis_store import RedisStore
    from turnout.health.breaker import Circuit
    from turnout.limits.redis import RedisLimiter

    store = RedisStore(
        "redis://127.0.0.1:1/0", prefix="t:", timeout=0.1, retry_after=1, max_item_bytes=1
    )
    limiter = RedisLimiter("redis://127.0.0.1:1/0", prefix="t:", retry_after=1)
    assert isinstance(store.circuit, Circuit) and isinstance(limiter.circuit, Circuit)
    assert issubclass(Breaker, Circuit)

from __future__ import annotations

import pytest

from turnout.health.limits import RateWindow


def test_admits_up_to_the_limit_per_minute() -> None:
    w = RateWindow(3)
    for _ in range(3):
        assert w.has_room(0.0)
        w.add(0.0, 1)
    assert not w.has_room(30.0)
    assert w.retry_after(30.0) == pytest.approx(50.0)  # 30 s to the next window + decay


def test_previous_window_decays() -> None:
    w = RateWindow(10)
    w.add(0.0, 10)
    assert not w.has_room(60.0)  # the previous minute still weighs fully
    assert w.used(90.0) == pytest.approx(5.0)
    assert w.has_room(90.0, 5)
    assert w.used(200.0) == 0


def test_retry_after_within_the_decay() -> None:
    w = RateWindow(10)
    w.add(0.0, 10)
    wait = w.retry_after(60.0)
    assert wait == pytest.approx(6.0)
    assert w.has_room(60.0 + wait)

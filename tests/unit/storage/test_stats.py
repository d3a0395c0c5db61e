"""Which rollup table and step answer a dashboard range, and the histogram's estimates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from turnout.storage.query import percentile
from turnout.storage.rollup import BOUNDS, bin_of, bin_value, estimate
from turnout.storage.stats import plan

BASE = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def test_plan_picks_tables_and_steps() -> None:
    day = timedelta(days=1)
    assert plan("model", BASE - timedelta(hours=1), BASE).table == "route_minute"
    assert plan("model", BASE - timedelta(hours=1), BASE).step == 60
    assert plan("key", BASE - timedelta(hours=1), BASE).table == "caller_hour"
    week = plan("deployment", BASE - 7 * day, BASE)
    assert week.table == "route_hour" and week.step == 3 * 3600
    month = plan("all", BASE - 30 * day, BASE)
    assert month.step == 12 * 3600 and (month.end - month.start) // month.step <= 100
    with pytest.raises(ValueError):
        plan("colour", BASE - day, BASE)
    with pytest.raises(ValueError):
        plan("model", BASE - 7 * day, BASE, step=60)


def test_bins_follow_their_bounds() -> None:
    assert bin_of(0.2) == 0 and bin_of(1.0) == 0 and bin_of(1.0001) == 1
    assert bin_of(BOUNDS[10]) == 10 and bin_of(BOUNDS[10] * 1.0001) == 11
    assert bin_of(1e12) == len(BOUNDS)


def test_estimates_are_within_a_tenth_of_the_exact_percentile() -> None:
    rng = random.Random(7)
    values = sorted(rng.lognormvariate(5, 1.2) for _ in range(5000))
    counts: dict[int, int] = {}
    for v in values:
        counts[bin_of(v)] = counts.get(bin_of(v), 0) + 1
    for p in (0.5, 0.9, 0.95, 0.99):
        exact = percentile(values, p)
        assert exact is not None
        assert estimate(counts, p) == pytest.approx(exact, rel=0.095)
    assert estimate({}, 0.5) is None
    assert bin_value(0) == 1.0

"""The two decision rules."""

from __future__ import annotations

from turnout.router.decide import rank


def test_target_picks_the_cheapest_that_clears_it() -> None:
    scores = [0.95, 0.85, 0.6]
    costs = [10.0, 2.0, 1.0]
    assert rank(scores, costs, "target", 0.8, 0)[0] == 1
    assert rank(scores, costs, "target", 0.5, 0) == [2, 0, 1]
    assert rank(scores, costs, "target", 0.9, 0) == [0, 1, 2]


def test_target_nobody_clears_it_so_the_best_goes_first() -> None:
    assert rank([0.3, 0.5, 0.4], [1.0, 3.0, 2.0], "target", 0.9, 0) == [1, 2, 0]


def test_unknown_deployments_come_last() -> None:
    assert rank([None, 0.9, 0.2], [0.0, 5.0, 1.0], "target", 0.8, 0) == [1, 2, 0]
    assert rank([None, None], [1.0, 2.0], "target", 0.8, 0) == [0, 1]


def test_tradeoff_weighs_quality_against_relative_cost() -> None:
    scores, costs = [0.9, 0.7], [10.0, 1.0]
    # lambda 0.1: 0.9 - 0.1 = 0.8 vs 0.7 - 0.01 = 0.69 -> the strong one
    assert rank(scores, costs, "tradeoff", 0, 0.1) == [0, 1]
    # lambda 0.5: 0.9 - 0.5 = 0.4 vs 0.7 - 0.05 = 0.65 -> the cheap one
    assert rank(scores, costs, "tradeoff", 0, 0.5) == [1, 0]
    assert rank(scores, [0.0, 0.0], "tradeoff", 0, 5.0) == [0, 1]

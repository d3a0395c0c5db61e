"""APGR and CPT as RouteLLM defines them, on curves small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.router.synth import rows
from turnout.router.evaluation import apgr, cpt, curve, evaluate, render
from turnout.router.training import Trained

ONES = np.ones(4)


def _curve(
    need: list[float], weak: list[float], strong: list[float]
) -> list[tuple[float, float, float]]:
    return curve(np.array(need), np.array(weak), np.array(strong), 0 * ONES, ONES)


def test_a_perfect_router_recovers_the_gap_with_the_fewest_strong_calls() -> None:
    # Two prompts only the strong model gets right, two both get right.
    pts = _curve([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1], [1, 1, 1, 1])
    assert [(c, q) for c, q, _ in pts] == [
        (0.0, 0.5),
        (0.25, 0.75),
        (0.5, 1.0),
        (0.75, 1.0),
        (1.0, 1.0),
    ]
    # AUC = 0.25*(0.5+0.75)/2 + 0.25*(0.75+1)/2 + 0.5*1 = 0.15625 + 0.21875 + 0.5 = 0.875
    assert apgr(pts, 0.5, 1.0) == pytest.approx((0.875 - 0.5) / 0.5)
    assert cpt(pts, 0.5, 1.0, 0.5) == pytest.approx(0.25)
    assert cpt(pts, 0.5, 1.0, 0.8) == pytest.approx(0.25 + 0.25 * (0.9 - 0.75) / 0.25)


def test_random_routing_is_the_diagonal() -> None:
    pts = [(0.0, 0.2, 0.0), (1.0, 0.6, 1.0)]
    assert apgr(pts, 0.2, 0.6) == pytest.approx(0.5)
    assert cpt(pts, 0.2, 0.6, 0.5) == pytest.approx(0.5)
    assert cpt(pts, 0.2, 0.6, 0.8) == pytest.approx(0.8)


def test_a_backwards_router_is_below_random() -> None:
    pts = _curve([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1], [1, 1, 1, 1])
    assert apgr(pts, 0.5, 1.0) == pytest.approx((0.625 - 0.5) / 0.5)


def test_ties_are_one_step_and_no_gap_has_no_apgr() -> None:
    pts = _curve([0.5, 0.5, 0.5, 0.5], [0, 0, 1, 1], [1, 1, 1, 1])
    assert [c for c, _, _ in pts] == [0.0, 1.0]
    assert apgr(pts, 0.5, 1.0) == pytest.approx(0.5)
    assert apgr(pts, 0.7, 0.7) is None


def test_report_of_a_trained_router(trained_knn: Trained) -> None:
    report = evaluate(trained_knn.model, trained_knn.heldout)
    assert report["weak"] == "mock/cheap-1" and report["strong"] == "mock/strong-1"
    assert report["paired_prompts"] > 20
    curves = report["curves"]
    assert curves["random"]["apgr"] == 0.5
    assert curves["router"]["apgr"] > 0.65
    assert curves["oracle"]["apgr"] >= curves["router"]["apgr"] - 1e-9
    assert curves["router"]["cpt50"] < 0.4
    costs = report["cost_per_call"]
    assert costs["weak"] < costs["strong"]
    assert len(report["operating_points"]) == 6
    assert "APGR" in render(report)


def test_unpaired_data_cannot_be_scored(trained_knn: Trained) -> None:
    from turnout.router.dataset import DatasetError

    with pytest.raises(DatasetError, match="answered by both"):
        evaluate(trained_knn.model, rows(40, seed=3, paired=False)[:1])


def test_the_plot_is_a_png(trained_knn: Trained) -> None:
    from turnout.router.plot import png

    data = png(evaluate(trained_knn.model, trained_knn.heldout))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

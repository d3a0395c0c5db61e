"""Training rows a router must survive: a prompt that is not valid Unicode (a lone surrogate,
which an imported file decoded with ``json`` can carry), NaN or infinite numbers, a deployment
the gateway no longer has, rows of the wrong types (router/features.py, router/dataset.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from turnout.router.features import FeatureConfig
from turnout.router.training import train


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(30):
        prompt = f"question {i} about the weather"
        rows.append(
            {
                "prompt": prompt,
                "deployment": "a/x",
                "score": float(i % 2),
                "cost": 1.0,
                "latency_ms": math.nan,
            }
        )
        rows.append({"prompt": prompt, "deployment": "gone/y", "score": 0.5, "cost": math.inf,
                     "latency_ms": math.inf})  # fmt: skip
    rows += [
        {"prompt": "lone \ud800 surrogate", "deployment": "a/x", "score": 1.0},
        {"prompt": "lone \udfff surrogate", "deployment": "gone/y", "score": 0.0},
        {"prompt": None, "deployment": "a/x", "score": 0.5},
        {"prompt": "p", "deployment": None, "score": 0.5},
        {"prompt": "p", "deployment": "a/x", "score": math.nan},
        {"prompt": "p", "deployment": "a/x", "score": math.inf},
        {"prompt": "p", "deployment": "a/x", "score": "0.5"},
        {"prompt": "p", "deployment": ["a/x"], "score": 1.0},
        {},
    ]
    return rows


@pytest.mark.parametrize("kind", ["knn", "logistic"])
def test_odd_rows_neither_crash_training_nor_a_prediction(kind: str) -> None:
    trained = train(_rows(), kind, features=FeatureConfig(dims=8), test_size=0.0, seed=0)
    for prompt in ("question 3 about the weather", "lone \ud800 surrogate"):
        scores = trained.model.scores(prompt, None)
        assert len(scores) == 2 and all(math.isfinite(float(s)) for s in scores)


def test_a_router_trained_on_odd_rows_is_stored_and_loaded(tmp_path: Any) -> None:
    from turnout.router.store import Registry

    trained = train(_rows(), "knn", features=FeatureConfig(dims=8), test_size=0.5, seed=0)
    registry = Registry(str(tmp_path))
    registry.save(trained.model, heldout=trained.heldout)
    loaded = registry.load("latest")
    assert {r["prompt"] for r in registry.heldout("latest")} <= {r.get("prompt") for r in _rows()}
    assert len(loaded.scores("lone \ud800 surrogate", None)) == 2

"""The estimator contract and what the kinds share: soft targets, constants for
deployments whose labels are all alike, one classifier per deployment."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]


def _sigmoid(x: NDArray[Any]) -> NDArray[Any]:
    out: NDArray[Any] = 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))
    return out


def soft_targets(
    X: Floats, scores: NDArray[Any]
) -> tuple[Floats, NDArray[np.int64], NDArray[np.float64]]:
    """Rows, binary labels and weights that make a classifier's log-loss equal to the
    cross-entropy against soft scores (rows of zero weight dropped)."""
    s = np.clip(scores.astype(np.float64), 0.0, 1.0)
    Xs = np.vstack([X, X])
    ys = np.concatenate([np.ones(len(s), np.int64), np.zeros(len(s), np.int64)])
    ws = np.concatenate([s, 1.0 - s])
    keep = ws > 0
    return Xs[keep], ys[keep], ws[keep]


class Estimator:
    """Per-deployment quality predictions; subclasses implement one kind."""

    kind: ClassVar[str] = ""

    def __init__(self, deployments: tuple[str, ...], constant: NDArray[np.float64]) -> None:
        self.deployments = deployments
        # NaN: a fitted model answers for that deployment; a number: that constant does.
        self.constant = constant

    def predict(self, Z: Floats) -> NDArray[np.float64]:
        """(n prompts x dims) → (n x deployments) probabilities."""
        return np.vstack([self.predict_one(z) for z in Z])

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}

    def arrays(self) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    @classmethod
    def load(
        cls, deployments: tuple[str, ...], params: dict[str, Any], arrays: dict[str, NDArray[Any]]
    ) -> Estimator:
        raise NotImplementedError

    @classmethod
    def fit(
        cls, Z: Floats, Y: NDArray[np.float64], deployments: tuple[str, ...], **params: Any
    ) -> Estimator:
        raise NotImplementedError


def _constants(Y: NDArray[np.float64]) -> NDArray[np.float64]:
    """The mean score of every deployment whose labels are all alike (else NaN)."""
    out = np.full(Y.shape[1], np.nan)
    for d in range(Y.shape[1]):
        col = Y[:, d][~np.isnan(Y[:, d])]
        if len(col) == 0:
            out[d] = 0.5  # nothing known: neither good nor bad
        elif np.all(col == col[0]) or len(col) < 4:
            out[d] = float(col.mean())
    return out


class _PerDeployment(Estimator):
    """One scikit-learn classifier per deployment, fitted on that deployment's labels."""

    @classmethod
    def _fit_one(
        cls, X: Floats, y: NDArray[np.int64], w: NDArray[np.float64], seed: int, **params: Any
    ) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    @classmethod
    def fit_columns(
        cls, Z: Floats, Y: NDArray[np.float64], seed: int, **params: Any
    ) -> tuple[NDArray[np.float64], list[dict[str, NDArray[Any]] | None]]:
        constant = _constants(Y)
        fitted: list[dict[str, NDArray[Any]] | None] = []
        for d in range(Y.shape[1]):
            if not np.isnan(constant[d]):
                fitted.append(None)
                continue
            rows = ~np.isnan(Y[:, d])
            X, y, w = soft_targets(Z[rows], Y[rows, d])
            fitted.append(cls._fit_one(X, y, w, seed, **params))
        return constant, fitted

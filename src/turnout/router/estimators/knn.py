"""``knn``: the similarity-weighted mean score of the nearest training prompts."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.estimators.base import Estimator, Floats, _constants


class Knn(Estimator):
    kind = "knn"

    def __init__(
        self,
        deployments: tuple[str, ...],
        constant: NDArray[np.float64],
        X: Floats,
        Y: NDArray[np.float32],
        k: int,
        weights: str,
    ) -> None:
        super().__init__(deployments, constant)
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.Y = Y.astype(np.float32)
        self.k = k
        self.weights = weights
        # For each deployment, the rows it has a label for, and those labels.
        self.rows = [np.flatnonzero(~np.isnan(self.Y[:, d])) for d in range(Y.shape[1])]
        self.labels = [self.Y[r, d].astype(np.float64) for d, r in enumerate(self.rows)]
        self.dense = [len(r) == len(self.X) for r in self.rows]

    def _nearest(self, s: Floats) -> NDArray[np.intp]:
        k = min(self.k, len(s))
        if k >= len(s):
            return np.arange(len(s))
        # argpartition finds the k largest without sorting the rest (O(n), not O(n log n)).
        top: NDArray[np.intp] = np.argpartition(s, len(s) - k)[len(s) - k :]
        return top

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        sims = self.X @ z  # cosine similarity: both sides are unit vectors
        out = np.empty(len(self.deployments))
        shared: NDArray[np.intp] | None = None  # neighbours among all rows, found once
        for d in range(len(self.deployments)):
            const = self.constant[d]
            if not np.isnan(const):
                out[d] = const
                continue
            if self.dense[d]:
                if shared is None:
                    shared = self._nearest(sims)
                top, near = shared, sims[shared]
            else:
                s = sims[self.rows[d]]
                top = self._nearest(s)
                near = s[top]
            labels = self.labels[d][top]
            if self.weights == "distance":
                # sklearn's "distance" weights: 1 / cosine distance (an exact match wins alone)
                dist = np.maximum(1.0 - near.astype(np.float64), 0.0)
                if np.any(dist == 0):
                    out[d] = float(labels[dist == 0].mean())
                    continue
                w = 1.0 / dist
                out[d] = float(w @ labels / w.sum())
            else:
                out[d] = float(labels.mean())
        return out

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "weights": self.weights}

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {"knn.X": self.X, "knn.Y": self.Y, "constant": self.constant}

    @classmethod
    def load(
        cls, deployments: tuple[str, ...], params: dict[str, Any], arrays: dict[str, NDArray[Any]]
    ) -> Knn:
        return cls(
            deployments,
            arrays["constant"],
            arrays["knn.X"],
            arrays["knn.Y"],
            int(params["k"]),
            str(params.get("weights", "distance")),
        )

    @classmethod
    def fit(
        cls,
        Z: Floats,
        Y: NDArray[np.float64],
        deployments: tuple[str, ...],
        k: int = 20,
        weights: str = "distance",
        **_: Any,
    ) -> Knn:
        if weights not in ("distance", "uniform"):
            raise ValueError("knn weights: 'distance' or 'uniform'")
        from sklearn.neighbors import NearestNeighbors

        # Fitting a kNN is storing its examples; scikit-learn validates them (finite, 2-D).
        NearestNeighbors(n_neighbors=1, metric="cosine").fit(Z)
        return cls(deployments, _constants(Y), Z, Y.astype(np.float32), max(1, k), weights)

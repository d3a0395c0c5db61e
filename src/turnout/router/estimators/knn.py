"""``knn``: the similarity-weighted mean score of the nearest training prompts.

Exact search is one matrix-vector product over every stored prompt: for 20,000 prompts of 128
dimensions that streams 10 MB per request, which memory bandwidth alone puts near a
millisecond on a busy machine. Past ``ivf_from`` prompts (8,192), the index is an *inverted
file*, as in vector databases: k-means (scikit-learn's ``MiniBatchKMeans``) splits the prompts
into about ``4·√n`` lists, stored contiguously; a query compares itself with the list centres
and searches only the ``probe`` nearest lists (about 1/16 of the prompts). The neighbours found
are the exact ones whenever they sit in the probed lists, which the tests check for almost all
of them; a deployment with fewer than ``k`` labelled prompts in the probed lists is searched
exactly. ``index: exact`` turns it off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.estimators.base import Estimator, Floats, _constants

IVF_FROM = 8192


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
        centroids: Floats | None = None,
        offsets: NDArray[np.int64] | None = None,
        probe: int = 0,
    ) -> None:
        super().__init__(deployments, constant)
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.Y = Y.astype(np.float32)
        self.k = k
        self.weights = weights
        self.labelled = ~np.isnan(self.Y)  # rows x deployments
        # For each deployment, the rows it has a label for, and those labels.
        self.rows = [np.flatnonzero(self.labelled[:, d]) for d in range(Y.shape[1])]
        self.labels = [self.Y[r, d].astype(np.float64) for d, r in enumerate(self.rows)]
        self.dense = [len(r) == len(self.X) for r in self.rows]
        self.centroids = centroids
        self.offsets = offsets
        self.probe = probe
        self.lists: list[NDArray[np.intp]] = []
        if centroids is not None and offsets is not None:
            self.lists = [np.arange(offsets[i], offsets[i + 1]) for i in range(len(centroids))]

    # -- search -------------------------------------------------------------------------------
    def _nearest(self, s: Floats) -> NDArray[np.intp]:
        k = min(self.k, len(s))
        if k >= len(s):
            return np.arange(len(s))
        # argpartition finds the k largest without sorting the rest (O(n), not O(n log n)).
        top: NDArray[np.intp] = np.argpartition(s, len(s) - k)[len(s) - k :]
        return top

    def _candidates(self, z: Floats) -> tuple[NDArray[np.intp] | None, Floats]:
        """Rows to search and their similarities: every row, or the probed lists'."""
        if self.centroids is None:
            return None, self.X @ z
        near = self._nearest_lists(self.centroids @ z)
        rows = np.concatenate([self.lists[i] for i in near])
        return rows, np.take(self.X, rows, axis=0) @ z

    def _nearest_lists(self, s: Floats) -> NDArray[np.intp]:
        p = min(self.probe, len(s))
        top: NDArray[np.intp] = np.argpartition(s, len(s) - p)[len(s) - p :]
        return top

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        rows, sims = self._candidates(z)
        out = np.empty(len(self.deployments))
        shared: NDArray[np.intp] | None = None  # neighbours among all candidates, found once
        for d in range(len(self.deployments)):
            const = self.constant[d]
            if not np.isnan(const):
                out[d] = const
                continue
            if rows is None:
                if self.dense[d]:
                    if shared is None:
                        shared = self._nearest(sims)
                    top, near = shared, sims[shared]
                else:
                    s = sims[self.rows[d]]
                    top = self._nearest(s)
                    near = s[top]
                labels = self.labels[d][top]
            elif self.dense[d]:
                if shared is None:
                    shared = self._nearest(sims)
                top = shared
                near, labels = sims[top], self.labels[d][rows[top]]
            else:
                mask = self.labelled[rows, d]
                if int(mask.sum()) < self.k:  # too few in the probed lists: search them all
                    s = self.X[self.rows[d]] @ z
                    top = self._nearest(s)
                    near, labels = s[top], self.labels[d][top]
                else:
                    s, r = sims[mask], rows[mask]
                    top = self._nearest(s)
                    near, labels = s[top], self.Y[r[top], d].astype(np.float64)
            out[d] = self._mean(near, labels)
        return out

    def _mean(self, near: Floats, labels: NDArray[np.float64]) -> float:
        if self.weights == "distance":
            # sklearn's "distance" weights: 1 / cosine distance (an exact match wins alone)
            dist = np.maximum(1.0 - near.astype(np.float64), 0.0)
            if np.any(dist == 0):
                return float(labels[dist == 0].mean())
            w = 1.0 / dist
            return float(w @ labels / w.sum())
        return float(labels.mean())

    # -- storage ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {"k": self.k, "weights": self.weights, "probe": self.probe,
                "index": "exact" if self.centroids is None else "ivf"}  # fmt: skip

    def arrays(self) -> dict[str, NDArray[Any]]:
        out: dict[str, NDArray[Any]] = {"knn.X": self.X, "knn.Y": self.Y,
                                        "constant": self.constant}  # fmt: skip
        if self.centroids is not None and self.offsets is not None:
            out["knn.centroids"], out["knn.offsets"] = self.centroids, self.offsets
        return out

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
            arrays.get("knn.centroids"),
            arrays.get("knn.offsets"),
            int(params.get("probe", 0)),
        )

    @classmethod
    def fit(
        cls,
        Z: Floats,
        Y: NDArray[np.float64],
        deployments: tuple[str, ...],
        k: int = 20,
        weights: str = "distance",
        index: str = "auto",
        ivf_from: int = IVF_FROM,
        lists: int | None = None,
        probe: int | None = None,
        seed: int = 0,
        **_: Any,
    ) -> Knn:
        if weights not in ("distance", "uniform"):
            raise ValueError("knn weights: 'distance' or 'uniform'")
        if index not in ("auto", "exact", "ivf"):
            raise ValueError("knn index: 'auto', 'exact' or 'ivf'")
        from sklearn.neighbors import NearestNeighbors

        # Fitting a kNN is storing its examples; scikit-learn validates them (finite, 2-D).
        NearestNeighbors(n_neighbors=1, metric="cosine").fit(Z)
        constant = _constants(Y)
        if index == "exact" or (index == "auto" and len(Z) < ivf_from) or len(Z) < 64:
            return cls(deployments, constant, Z, Y.astype(np.float32), max(1, k), weights)
        from sklearn.cluster import MiniBatchKMeans

        n_lists = lists or max(8, min(1024, int(4 * math.sqrt(len(Z)))))
        kmeans = MiniBatchKMeans(n_clusters=n_lists, random_state=seed, n_init=3,
                                 batch_size=4096).fit(Z)  # fmt: skip
        assignment = kmeans.labels_
        order = np.argsort(assignment, kind="stable")
        counts = np.bincount(assignment, minlength=n_lists)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        centroids = kmeans.cluster_centers_.astype(np.float32)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        n_probe = probe or max(1, n_lists // 16)
        return cls(deployments, constant, Z[order], Y[order].astype(np.float32), max(1, k),
                   weights, centroids, offsets, n_probe)  # fmt: skip

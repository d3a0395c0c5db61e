"""Quality estimators: for a prompt vector, the chance that each deployment answers it well.

Four kinds, each trained with scikit-learn and served by a few lines of NumPy over the fitted
parameters (so a deployed router needs neither pickle nor scikit-learn's per-call validation,
which alone costs more than the arithmetic):

- ``knn``: the similarity-weighted mean score of the ``k`` most similar training prompts that
  the deployment answered (scikit-learn's ``KNeighborsRegressor`` with cosine distance is the
  reference the tests compare with);
- ``logistic``: ``LogisticRegression`` per deployment;
- ``svm``: an RBF ``SVC`` per deployment, calibrated to probabilities by Platt scaling
  (``CalibratedClassifierCV(method="sigmoid")``);
- ``mlp``: an ``MLPClassifier`` (one hidden ReLU layer) per deployment.

Labels are scores in [0, 1]. The classifiers learn from them exactly as soft targets: a
prompt with score ``s`` counts as a positive example of weight ``s`` and a negative one of
weight ``1 - s``. A deployment whose labels are all alike (always right, always wrong) gets
their mean as a constant instead of a classifier that cannot be fitted.

``Y`` below is the label matrix: one row per distinct training prompt, one column per
deployment, NaN where that deployment never answered that prompt (gateway traffic answers
each request once; public benchmarks answer every prompt with every model).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]
KINDS = ("knn", "logistic", "svm", "mlp")


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

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        sims = self.X @ z  # cosine similarity: both sides are unit vectors
        out = np.empty(len(self.deployments))
        for d in range(len(self.deployments)):
            const = self.constant[d]
            if not np.isnan(const):
                out[d] = const
                continue
            s = sims if self.dense[d] else sims[self.rows[d]]
            k = min(self.k, len(s))
            top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
            labels = self.labels[d][top]
            if self.weights == "distance":
                # sklearn's "distance" weights: 1 / cosine distance (an exact match wins alone)
                dist = np.maximum(1.0 - s[top].astype(np.float64), 0.0)
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


class Logistic(_PerDeployment):
    kind = "logistic"

    def __init__(
        self,
        deployments: tuple[str, ...],
        constant: NDArray[np.float64],
        W: Floats,
        b: NDArray[np.float64],
    ) -> None:
        super().__init__(deployments, constant)
        self.W, self.b = np.ascontiguousarray(W, dtype=np.float32), b

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        p = _sigmoid(self.W @ z + self.b)
        const = ~np.isnan(self.constant)
        p[const] = self.constant[const]
        return p.astype(np.float64)

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {"logistic.W": self.W, "logistic.b": self.b, "constant": self.constant}

    @classmethod
    def load(
        cls, deployments: tuple[str, ...], params: dict[str, Any], arrays: dict[str, NDArray[Any]]
    ) -> Logistic:
        return cls(deployments, arrays["constant"], arrays["logistic.W"], arrays["logistic.b"])

    @classmethod
    def _fit_one(
        cls, X: Floats, y: NDArray[np.int64], w: NDArray[np.float64], seed: int, **params: Any
    ) -> dict[str, NDArray[Any]]:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=float(params.get("C", 4.0)), max_iter=2000)
        model.fit(X, y, sample_weight=w)
        return {"W": model.coef_[0], "b": model.intercept_}

    @classmethod
    def fit(
        cls,
        Z: Floats,
        Y: NDArray[np.float64],
        deployments: tuple[str, ...],
        seed: int = 0,
        **params: Any,
    ) -> Logistic:
        constant, fitted = cls.fit_columns(Z, Y, seed, **params)
        W = np.zeros((Y.shape[1], Z.shape[1]), np.float32)
        b = np.zeros(Y.shape[1])
        for d, f in enumerate(fitted):
            if f is not None:
                W[d], b[d] = f["W"], float(f["b"][0])
        return cls(deployments, constant, W, b)


class Svm(_PerDeployment):
    kind = "svm"

    def __init__(
        self,
        deployments: tuple[str, ...],
        constant: NDArray[np.float64],
        sv: Floats,
        dual: NDArray[np.float64],
        offsets: NDArray[np.int64],
        coef: NDArray[np.float64],  # per deployment: intercept, gamma, Platt a, Platt b
    ) -> None:
        super().__init__(deployments, constant)
        self.sv = np.ascontiguousarray(sv, dtype=np.float32)
        self.sv_sq = np.einsum("ij,ij->i", self.sv, self.sv).astype(np.float64)
        self.dual, self.offsets, self.coef = dual, offsets, coef

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        out = self.constant.copy()
        if len(self.sv):
            dots = (self.sv @ z).astype(np.float64)
            zz = float(z @ z)
        for d in range(len(self.deployments)):
            if not np.isnan(out[d]):
                continue
            lo, hi = self.offsets[d], self.offsets[d + 1]
            intercept, gamma, a, b = self.coef[d]
            kernel = np.exp(-gamma * (self.sv_sq[lo:hi] + zz - 2.0 * dots[lo:hi]))
            f = float(self.dual[lo:hi] @ kernel) + intercept
            out[d] = float(_sigmoid(np.asarray(-(a * f + b))))
        return out

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "svm.sv": self.sv,
            "svm.dual": self.dual,
            "svm.offsets": self.offsets,
            "svm.coef": self.coef,
            "constant": self.constant,
        }

    @classmethod
    def load(
        cls, deployments: tuple[str, ...], params: dict[str, Any], arrays: dict[str, NDArray[Any]]
    ) -> Svm:
        return cls(
            deployments,
            arrays["constant"],
            arrays["svm.sv"],
            arrays["svm.dual"],
            arrays["svm.offsets"],
            arrays["svm.coef"],
        )

    @classmethod
    def _fit_one(
        cls, X: Floats, y: NDArray[np.int64], w: NDArray[np.float64], seed: int, **params: Any
    ) -> dict[str, NDArray[Any]]:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        limit = int(params.get("max_train", 6000))
        if len(X) > limit:  # an RBF SVM's fit grows with the square of its examples
            pick = np.random.default_rng(seed).choice(len(X), limit, replace=False)
            X, y, w = X[pick], y[pick], w[pick]
        svc = SVC(kernel="rbf", C=float(params.get("C", 1.0)), gamma="scale", random_state=seed)
        folds = int(min(3, np.bincount(y, minlength=2).min()))
        if folds < 2:  # too few of one class to calibrate on held-out folds
            svc.fit(X, y, sample_weight=w)
            decision = svc.decision_function(X)
            a, b = _platt(decision, y, w)
        else:
            model = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)
            model.fit(X, y, sample_weight=w)
            fitted = model.calibrated_classifiers_[0]
            svc = fitted.estimator
            a, b = float(fitted.calibrators[0].a_), float(fitted.calibrators[0].b_)
        return {
            "sv": svc.support_vectors_.astype(np.float32),
            "dual": svc.dual_coef_[0].astype(np.float64),
            "coef": np.array([svc.intercept_[0], svc._gamma, a, b], np.float64),
        }

    @classmethod
    def fit(
        cls,
        Z: Floats,
        Y: NDArray[np.float64],
        deployments: tuple[str, ...],
        seed: int = 0,
        **params: Any,
    ) -> Svm:
        constant, fitted = cls.fit_columns(Z, Y, seed, **params)
        svs, duals, coefs, offsets = [], [], [], [0]
        for f in fitted:
            if f is None:
                coefs.append(np.zeros(4))
                offsets.append(offsets[-1])
                continue
            svs.append(f["sv"])
            duals.append(f["dual"])
            coefs.append(f["coef"])
            offsets.append(offsets[-1] + len(f["sv"]))
        sv = np.vstack(svs) if svs else np.zeros((0, Z.shape[1]), np.float32)
        dual = np.concatenate(duals) if duals else np.zeros(0)
        return cls(deployments, constant, sv, dual, np.array(offsets, np.int64), np.vstack(coefs))


def _platt(decision: NDArray[Any], y: NDArray[Any], w: NDArray[Any]) -> tuple[float, float]:
    from sklearn.calibration import _SigmoidCalibration

    cal = _SigmoidCalibration().fit(decision, y, sample_weight=w)
    return float(cal.a_), float(cal.b_)


class Mlp(_PerDeployment):
    kind = "mlp"

    def __init__(
        self,
        deployments: tuple[str, ...],
        constant: NDArray[np.float64],
        layers: list[list[tuple[Floats, NDArray[np.float64]]] | None],
    ) -> None:
        super().__init__(deployments, constant)
        self.layers = layers

    def predict_one(self, z: Floats) -> NDArray[np.float64]:
        out = self.constant.copy()
        for d, layers in enumerate(self.layers):
            if layers is None:
                continue
            h: NDArray[Any] = z
            for i, (W, b) in enumerate(layers):
                h = h @ W + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            out[d] = float(_sigmoid(h)[0])
        return out

    def arrays(self) -> dict[str, NDArray[Any]]:
        out: dict[str, NDArray[Any]] = {"constant": self.constant}
        for d, layers in enumerate(self.layers):
            for i, (W, b) in enumerate(layers or ()):
                out[f"mlp.{d}.{i}.W"], out[f"mlp.{d}.{i}.b"] = W, b
        return out

    def params(self) -> dict[str, Any]:
        return {"depth": [0 if layers is None else len(layers) for layers in self.layers]}

    @classmethod
    def load(
        cls, deployments: tuple[str, ...], params: dict[str, Any], arrays: dict[str, NDArray[Any]]
    ) -> Mlp:
        layers: list[list[tuple[Floats, NDArray[np.float64]]] | None] = []
        for d, depth in enumerate(params["depth"]):
            if not depth:
                layers.append(None)
                continue
            layers.append(
                [
                    (
                        np.ascontiguousarray(arrays[f"mlp.{d}.{i}.W"], dtype=np.float32),
                        np.asarray(arrays[f"mlp.{d}.{i}.b"], dtype=np.float64),
                    )
                    for i in range(depth)
                ]
            )
        return cls(deployments, arrays["constant"], layers)

    @classmethod
    def _fit_one(
        cls, X: Floats, y: NDArray[np.int64], w: NDArray[np.float64], seed: int, **params: Any
    ) -> dict[str, NDArray[Any]]:
        from sklearn.neural_network import MLPClassifier

        hidden = int(params.get("hidden", 64))
        model = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            activation="relu",
            alpha=float(params.get("alpha", 1e-3)),
            max_iter=int(params.get("max_iter", 300)),
            random_state=seed,
        )
        model.fit(X, y, sample_weight=w)
        out: dict[str, NDArray[Any]] = {}
        for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
            out[f"{i}.W"], out[f"{i}.b"] = W.astype(np.float32), b.astype(np.float64)
        return out

    @classmethod
    def fit(
        cls,
        Z: Floats,
        Y: NDArray[np.float64],
        deployments: tuple[str, ...],
        seed: int = 0,
        **params: Any,
    ) -> Mlp:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            constant, fitted = cls.fit_columns(Z, Y, seed, **params)
        layers: list[list[tuple[Floats, NDArray[np.float64]]] | None] = []
        for f in fitted:
            if f is None:
                layers.append(None)
                continue
            depth = len(f) // 2
            layers.append([(f[f"{i}.W"], f[f"{i}.b"]) for i in range(depth)])
        return cls(deployments, constant, layers)


ESTIMATORS: dict[str, type[Estimator]] = {
    "knn": Knn,
    "logistic": Logistic,
    "svm": Svm,
    "mlp": Mlp,
}

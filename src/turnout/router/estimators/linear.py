"""``logistic`` and ``svm`` (RBF kernel, Platt-calibrated), one per deployment."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.estimators.base import Floats, _PerDeployment, _sigmoid


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

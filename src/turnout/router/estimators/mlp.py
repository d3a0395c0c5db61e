"""``mlp``: one hidden ReLU layer per deployment, served by two matrix products."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.estimators.base import Floats, _PerDeployment, _sigmoid


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

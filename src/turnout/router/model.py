"""A trained router: the feature pipeline, the quality estimator, and what it knows about the
deployments it was trained on (their ids and mean cost per call in the training data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.estimators import ESTIMATORS, Estimator
from turnout.router.features import FeaturePipeline


@dataclass(slots=True)
class RouterModel:
    kind: str
    features: FeaturePipeline
    estimator: Estimator
    deployments: tuple[str, ...]  # deployment ids, "provider/model"
    costs: dict[str, float | None] = field(default_factory=dict)  # USD per call, training data
    version: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    def vector(self, text: str, embedding: NDArray[np.float32] | None = None) -> Any:
        return self.features.transform_one(text, embedding)

    def scores(
        self, text: str, embedding: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        """Predicted quality of each deployment (in :attr:`deployments` order) for a prompt."""
        return self.estimator.predict_one(self.features.transform_one(text, embedding))

    def score_map(
        self, text: str, embedding: NDArray[np.float32] | None = None
    ) -> dict[str, float]:
        return dict(zip(self.deployments, self.scores(text, embedding).tolist(), strict=True))

    def predict(
        self, texts: list[str], embeddings: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        """(prompts x deployments) predictions for a batch (evaluation)."""
        return self.estimator.predict(self.features.transform(texts, embeddings))

    # -- the stored form: JSON parameters + named arrays ------------------------------------
    def params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "deployments": list(self.deployments),
            "costs": self.costs,
            "features": self.features.params(),
            "estimator": self.estimator.params(),
        }

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {**self.features.arrays(), **self.estimator.arrays()}

    @classmethod
    def load(
        cls, params: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], version: str = ""
    ) -> RouterModel:
        kind = str(params["kind"])
        estimator_cls = ESTIMATORS.get(kind)
        if estimator_cls is None:
            raise ValueError(f"unknown router kind {kind!r}")
        deployments = tuple(str(d) for d in params["deployments"])
        arrays = dict(arrays)
        return cls(
            kind=kind,
            features=FeaturePipeline.load(dict(params["features"]), arrays),
            estimator=estimator_cls.load(deployments, dict(params["estimator"]), arrays),
            deployments=deployments,
            costs={str(k): v for k, v in dict(params.get("costs") or {}).items()},
            version=version,
            manifest=dict(params),
        )

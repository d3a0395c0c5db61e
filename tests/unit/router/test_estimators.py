"""Each estimator: its NumPy serving path equals scikit-learn's own prediction, it learns the
skill profile, and it survives the stored form."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC

from tests.unit.router.synth import CHEAP, STRONG, rows
from turnout.router.estimators import ESTIMATORS, Knn, soft_targets
from turnout.router.features import FeatureConfig, FeaturePipeline
from turnout.router.training import build_matrix

DEPLOYMENTS = (CHEAP, STRONG)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    matrix = build_matrix(rows(400, paired=False), DEPLOYMENTS)
    fp = FeaturePipeline.fit(matrix.prompts, FeatureConfig(dims=24), seed=0)
    Z = fp.transform(matrix.prompts)
    kinds = ["easy" if i % 2 == 0 else "hard" for i in range(len(matrix.prompts))]
    test = rows(120, seed=7)
    tm = build_matrix(test, DEPLOYMENTS)
    return {"Z": Z, "Y": matrix.scores, "fp": fp, "test": fp.transform(tm.prompts),
            "test_kinds": [r["category"] for r in test[::2]], "kinds": kinds}  # fmt: skip


def _column(data: dict[str, Any], d: int) -> tuple[Any, Any]:
    mask = ~np.isnan(data["Y"][:, d])
    return data["Z"][mask], data["Y"][mask, d]


def _reference(kind: str, X: Any, y: Any, seed: int = 0) -> Any:
    Xs, ys, ws = soft_targets(X, y)
    if kind == "logistic":
        return LogisticRegression(C=4.0, max_iter=2000).fit(Xs, ys, sample_weight=ws)
    if kind == "svm":
        svc = SVC(kernel="rbf", C=1.0, gamma="scale", random_state=seed)
        model = CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)
        return model.fit(Xs, ys, sample_weight=ws)
    model = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", alpha=1e-3,
                          max_iter=300, random_state=seed)  # fmt: skip
    return model.fit(Xs, ys, sample_weight=ws)


@pytest.mark.parametrize("kind", ["logistic", "svm", "mlp"])
def test_serving_equals_scikit_learn(kind: str, data: dict[str, Any]) -> None:
    import warnings

    est = ESTIMATORS[kind].fit(data["Z"], data["Y"], DEPLOYMENTS, seed=0)
    ours = est.predict(data["test"])
    for d in range(len(DEPLOYMENTS)):
        X, y = _column(data, d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = _reference(kind, X, y).predict_proba(data["test"])[:, 1]
        assert np.allclose(ours[:, d], ref, atol=1e-5), kind


@pytest.mark.parametrize("weights", ["distance", "uniform"])
def test_knn_equals_scikit_learn(weights: str, data: dict[str, Any]) -> None:
    est = Knn.fit(data["Z"], data["Y"], DEPLOYMENTS, k=15, weights=weights)
    ours = est.predict(data["test"])
    for d in range(len(DEPLOYMENTS)):
        X, y = _column(data, d)
        ref = KNeighborsRegressor(n_neighbors=15, metric="cosine", weights=weights).fit(X, y)
        # float32 similarities: near-duplicate prompts have tiny distances, whose inverses
        # carry the rounding
        assert np.allclose(ours[:, d], ref.predict(data["test"]), atol=1e-3)


@pytest.mark.parametrize("kind", ["knn", "logistic", "svm", "mlp"])
def test_learns_that_the_cheap_deployment_fails_hard_prompts(
    kind: str, data: dict[str, Any]
) -> None:
    est = ESTIMATORS[kind].fit(data["Z"], data["Y"], DEPLOYMENTS, seed=0)
    p = est.predict(data["test"])
    easy = np.array([k == "easy" for k in data["test_kinds"]])
    assert p[easy, 0].mean() > 0.75
    assert p[~easy, 0].mean() < 0.35
    assert p[:, 1].mean() > 0.75  # the strong deployment is good at both


@pytest.mark.parametrize("kind", ["knn", "logistic", "svm", "mlp"])
def test_stored_arrays_give_the_same_predictions(kind: str, data: dict[str, Any]) -> None:
    cls = ESTIMATORS[kind]
    est = cls.fit(data["Z"], data["Y"], DEPLOYMENTS, seed=0)
    again = cls.load(DEPLOYMENTS, est.params(), est.arrays())
    assert np.array_equal(est.predict(data["test"]), again.predict(data["test"]))
    for name, array in est.arrays().items():
        assert array.dtype != object, name


@pytest.mark.parametrize("kind", ["knn", "logistic", "svm", "mlp"])
def test_a_deployment_always_right_gets_a_constant(kind: str, data: dict[str, Any]) -> None:
    Y = data["Y"].copy()
    Y[:, 1] = np.where(np.isnan(Y[:, 1]), np.nan, 1.0)
    est = ESTIMATORS[kind].fit(data["Z"], Y, DEPLOYMENTS, seed=0)
    assert np.all(est.predict(data["test"])[:, 1] == 1.0)


def test_soft_scores_are_weighted_examples() -> None:
    X = np.eye(3, dtype=np.float32)
    Xs, ys, ws = soft_targets(X, np.array([1.0, 0.0, 0.25]))
    assert ys.tolist() == [1, 1, 0, 0]
    assert ws.tolist() == [1.0, 0.25, 1.0, 0.75]
    assert Xs.shape == (4, 3)


def test_the_inverted_file_index_finds_almost_the_exact_neighbours() -> None:
    matrix = build_matrix(rows(3000, seed=5), DEPLOYMENTS)
    fp = FeaturePipeline.fit(matrix.prompts, FeatureConfig(dims=32), seed=0)
    Z = fp.transform(matrix.prompts)
    exact = Knn.fit(Z, matrix.scores, DEPLOYMENTS, k=10)
    ivf = Knn.fit(Z, matrix.scores, DEPLOYMENTS, k=10, index="ivf", seed=0)
    assert exact.centroids is None and ivf.centroids is not None
    assert ivf.probe >= 1 and len(ivf.lists) == len(ivf.centroids)
    assert sorted(np.concatenate(ivf.lists).tolist()) == list(range(len(Z)))
    test = build_matrix(rows(300, seed=9), DEPLOYMENTS)
    Zt = fp.transform(test.prompts)
    a, b = exact.predict(Zt), ivf.predict(Zt)
    assert np.mean(np.abs(a - b)) < 0.03
    assert np.mean((a[:, 0] >= 0.5) == (b[:, 0] >= 0.5)) > 0.95
    again = Knn.load(DEPLOYMENTS, ivf.params(), ivf.arrays())
    assert np.array_equal(again.predict(Zt), b)

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

from turnout.router.estimators.base import Estimator, soft_targets
from turnout.router.estimators.knn import Knn
from turnout.router.estimators.linear import Logistic, Svm
from turnout.router.estimators.mlp import Mlp

KINDS = ("knn", "logistic", "svm", "mlp")
ESTIMATORS: dict[str, type[Estimator]] = {
    "knn": Knn,
    "logistic": Logistic,
    "svm": Svm,
    "mlp": Mlp,
}

__all__ = ["ESTIMATORS", "KINDS", "Estimator", "Knn", "Logistic", "Mlp", "Svm", "soft_targets"]

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.router.synth import rows
from turnout.router.features import FeatureConfig
from turnout.router.store import Registry
from turnout.router.training import Trained, train


@pytest.fixture(scope="session")
def trained_knn() -> Trained:
    return train(rows(300), "knn", features=FeatureConfig(dims=16), seed=0)


@pytest.fixture
def registry(tmp_path: Path, trained_knn: Trained) -> Registry:
    reg = Registry(tmp_path / "routers")
    reg.save(trained_knn.model, heldout=trained_knn.heldout, data=trained_knn.data)
    return reg

"""The registry: versions, manifests, and a loader that never unpickles unless told to."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from turnout.router.store import PickleRefused, Registry, RouterStoreError, sha256
from turnout.router.training import Trained


def test_versions_are_numbered_and_resolved(registry: Registry, trained_knn: Trained) -> None:
    assert registry.save(trained_knn.model) == 2
    assert registry.versions() == [1, 2]
    assert registry.resolve("latest") == 2
    assert registry.resolve("v0001") == registry.resolve("1") == registry.resolve("v1") == 1
    with pytest.raises(RouterStoreError, match="no router version 9"):
        registry.resolve("9")
    with pytest.raises(RouterStoreError, match="not a router version"):
        registry.resolve("../etc")


def test_a_loaded_version_predicts_like_the_trained_one(
    registry: Registry, trained_knn: Trained
) -> None:
    model = registry.load("latest")
    assert model.version == "v0001"
    assert model.kind == "knn"
    text = "What is the capital of Chile?"
    assert np.array_equal(model.scores(text), trained_knn.model.scores(text))
    manifest = registry.manifest(1)
    assert manifest["data"]["fingerprint"].startswith("sha256:")
    assert manifest["libraries"]["scikit-learn"]
    assert set(manifest["files"]) == {"arrays.npz", "heldout.jsonl"}
    assert registry.heldout(1) == trained_knn.heldout


def test_a_pickled_version_is_refused_unless_allowed(
    registry: Registry, trained_knn: Trained
) -> None:
    number = registry.save(trained_knn.model, unsafe_pickle=True)
    assert (registry.path(number) / "model.pkl").is_file()
    with pytest.raises(PickleRefused, match="allow_pickle"):
        registry.load(number)
    model = registry.load(number, allow_pickle=True)
    assert model.version == f"v{number:04d}"


def test_a_pickle_dropped_into_a_safe_version_is_refused(registry: Registry) -> None:
    (registry.path(1) / "model.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(PickleRefused):
        registry.load(1)


def _rewrite_arrays(registry: Registry, **extra: object) -> Path:
    path = registry.path(1) / "arrays.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **extra)  # type: ignore[arg-type]
    path.write_bytes(buffer.getvalue())
    manifest_path = registry.path(1) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["arrays.npz"] = sha256(path)  # as if the attacker also fixed the hash
    manifest_path.write_text(json.dumps(manifest))
    return path


def test_an_object_array_inside_the_npz_is_refused(registry: Registry) -> None:
    _rewrite_arrays(registry, payload=np.array([{"evil": True}], dtype=object))
    with pytest.raises(PickleRefused, match="allow_pickle"):
        registry.load(1)


def test_a_file_that_does_not_match_its_manifest_is_refused(registry: Registry) -> None:
    path = registry.path(1) / "arrays.npz"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(RouterStoreError, match="does not match its manifest"):
        registry.load(1)


def test_a_pickle_renamed_to_npz_is_refused(registry: Registry) -> None:
    path = registry.path(1) / "arrays.npz"
    path.write_bytes(pickle.dumps(np.arange(3)))
    manifest_path = registry.path(1) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["arrays.npz"] = sha256(path)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PickleRefused):
        registry.load(1)


def test_deploy_history_is_kept_per_model(registry: Registry) -> None:
    registry.record_deploy("auto", {"how": "deploy", "version": "v0001"})
    registry.record_deploy("other", {"how": "deploy", "version": "v0001"})
    assert [d["version"] for d in registry.deploys("auto")] == ["v0001"]
    assert len(registry.deploys()) == 2


def test_eval_files_cannot_overwrite_the_version(registry: Registry) -> None:
    registry.write_extra(1, "eval.json", b"{}")
    with pytest.raises(RouterStoreError):
        registry.write_extra(1, "arrays.npz", b"")

"""Train a router from long rows: group by prompt, split by prompt, fit, evaluate, store.

The split is by *prompt*, never by row: the same prompt answered by two deployments lands on
one side only, otherwise a kNN would look its own test prompt up in the training set and the
held-out figures would be fiction. The split is seeded, so the same data and seed give the
same version (up to floating point).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.dataset import DatasetError, fingerprint, labelled, prompt_id
from turnout.router.estimators import ESTIMATORS
from turnout.router.features import FeatureConfig, FeaturePipeline
from turnout.router.model import RouterModel

EmbedFn = Any  # Callable[[list[str]], NDArray[np.float32]]: texts -> embeddings


@dataclass(slots=True)
class Matrix:
    """Distinct prompts x deployments: mean score and mean cost, NaN where unknown."""

    prompts: list[str]
    deployments: tuple[str, ...]
    scores: NDArray[np.float64]
    costs: NDArray[np.float64]
    categories: list[str | None] = field(default_factory=list)


def build_matrix(
    rows: Sequence[Mapping[str, Any]], deployments: Sequence[str] | None = None
) -> Matrix:
    rows = labelled(rows)
    if deployments is None:
        deployments = sorted({str(r["deployment"]) for r in rows})
    column = {d: i for i, d in enumerate(deployments)}
    index: dict[str, int] = {}
    prompts: list[str] = []
    categories: list[str | None] = []
    for r in rows:
        if r["deployment"] in column and r["prompt"] not in index:
            index[r["prompt"]] = len(prompts)
            prompts.append(r["prompt"])
            categories.append(r.get("category"))
    shape = (len(prompts), len(deployments))
    sums, counts = np.zeros(shape), np.zeros(shape)
    cost_sums, cost_counts = np.zeros(shape), np.zeros(shape)
    for r in rows:
        d = column.get(r["deployment"])
        if d is None:
            continue
        p = index[r["prompt"]]
        sums[p, d] += float(r["score"])
        counts[p, d] += 1
        cost = r.get("cost")
        if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
            cost_sums[p, d] += float(cost)
            cost_counts[p, d] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        costs = np.where(cost_counts > 0, cost_sums / np.maximum(cost_counts, 1), np.nan)
    return Matrix(prompts, tuple(deployments), scores, costs, categories)


def split(prompts: Sequence[str], test_size: float, seed: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """Train and held-out prompt indices, by a seeded hash of each prompt (stable when rows
    are added: a prompt stays on its side)."""
    if not 0.0 <= test_size < 1.0:
        raise DatasetError("test size must be within [0, 1)")
    keys = np.array(
        [int(prompt_id(f"{seed}:{p}")[:12], 16) / float(16**12) for p in prompts], np.float64
    )
    test = keys < test_size
    return np.flatnonzero(~test), np.flatnonzero(test)


def mean_costs(matrix: Matrix) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for d, name in enumerate(matrix.deployments):
        col = matrix.costs[:, d]
        col = col[~np.isnan(col)]
        out[name] = float(col.mean()) if len(col) else None
    return out


def heldout_rows(rows: Sequence[Mapping[str, Any]], prompts: set[str]) -> list[dict[str, Any]]:
    keep = ("prompt", "deployment", "score", "cost", "category", "request_id", "source")
    return [
        {k: r.get(k) for k in keep if r.get(k) is not None}
        for r in labelled(rows)
        if r["prompt"] in prompts
    ]


@dataclass(slots=True)
class Trained:
    model: RouterModel
    heldout: list[dict[str, Any]]
    data: dict[str, Any]
    training: dict[str, Any]


def train(
    rows: Sequence[Mapping[str, Any]],
    kind: str,
    *,
    features: FeatureConfig | None = None,
    params: Mapping[str, Any] | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    deployments: Sequence[str] | None = None,
    embed: EmbedFn | None = None,
) -> Trained:
    estimator_cls = ESTIMATORS.get(kind)
    if estimator_cls is None:
        raise DatasetError(f"unknown kind {kind!r} (one of {', '.join(ESTIMATORS)})")
    features = features or FeatureConfig()
    usable = labelled(rows)
    matrix = build_matrix(usable, deployments)
    if len(matrix.deployments) < 2:
        raise DatasetError(
            f"need labelled answers from at least two deployments, got {list(matrix.deployments)}"
        )
    train_idx, test_idx = split(matrix.prompts, test_size, seed)
    if len(train_idx) < 2:
        raise DatasetError(f"only {len(train_idx)} training prompts: label more traffic first")
    started = time.perf_counter()
    texts = [matrix.prompts[i] for i in train_idx]
    embeddings = embed(texts) if embed is not None else None
    pipeline = FeaturePipeline.fit(
        texts,
        features,
        seed=seed,
        embedding_dims=0 if embeddings is None else int(embeddings.shape[1]),
    )
    Z = pipeline.transform(texts, embeddings)
    estimator = estimator_cls.fit(
        Z, matrix.scores[train_idx], matrix.deployments, seed=seed, **dict(params or {})
    )
    train_matrix = Matrix(
        texts, matrix.deployments, matrix.scores[train_idx], matrix.costs[train_idx]
    )
    model = RouterModel(
        kind=kind,
        features=pipeline,
        estimator=estimator,
        deployments=matrix.deployments,
        costs=mean_costs(train_matrix),
    )
    held_prompts = {matrix.prompts[i] for i in test_idx}
    heldout = heldout_rows(usable, held_prompts)
    train_prompts = set(texts)
    train_rows = [r for r in usable if r["prompt"] in train_prompts]
    per_deployment = {
        d: int((~np.isnan(train_matrix.scores[:, i])).sum())
        for i, d in enumerate(matrix.deployments)
    }
    data = {
        "fingerprint": fingerprint(usable),
        "train_fingerprint": fingerprint(train_rows),
        "rows": len(usable),
        "prompts": len(matrix.prompts),
        "train_prompts": len(train_idx),
        "heldout_prompts": len(test_idx),
        "labels_per_deployment": per_deployment,
        "sources": sorted({str(r.get("source") or "unknown") for r in usable}),
    }
    training = {
        "kind": kind,
        "params": dict(params or {}),
        "test_size": test_size,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Trained(model, heldout, data, training)

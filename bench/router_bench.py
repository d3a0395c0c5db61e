"""Learned-routing inference time on the request path: the target is p99 <= 1 ms for a kNN
router over 20,000 training prompts.

In process, no network: trains a ``knn`` router on 20,000 synthetic prompts answered by two
deployments (so the index has 20,000 rows, each labelled for both), stores and reloads it from
a registry as a gateway would, builds the strategy exactly as a model group with
``strategy: knn`` does, and times ``strategy.order(candidates, call)`` (prompt extraction,
hashing, TF-IDF, SVD projection, the neighbour search, the decision and its record) on
held-out prompts, one at a time, in wall-clock time and in the thread's CPU time (on a shared
machine, waiting for a core inflates the first, much less the second). The stages are also
timed apart. With ``--blas-threads 1`` (the default) NumPy's BLAS runs on one thread.

    uv run python bench/router_bench.py [--examples 20000] [--queries 5000] [--dims 128]

Writes ``bench/results/router.json``. The machine's other load shows in the tail: run it on a
quiet machine for figures to compare.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.router.synth import CHEAP, COST, EASY, HARD, QUALITY, STRONG, WORDS, good

RESULTS = Path(__file__).parent / "results" / "router.json"


def corpus(n: int, seed: int) -> list[tuple[str, str]]:
    """Varied prompts: templates, vocabulary and lengths mixed so the kNN index is not a few
    duplicates."""
    rnd = random.Random(seed)
    fillers = [
        *WORDS,
        "please",
        "quickly",
        "in detail",
        "for a report",
        "step by step",
        "with examples",
        "briefly",
        "for beginners",
        "and cite sources",
    ]
    out = []
    for i in range(n):
        kind = "easy" if rnd.random() < 0.5 else "hard"
        text = rnd.choice(EASY if kind == "easy" else HARD).format(
            x=rnd.choice(WORDS), n=rnd.randint(2, 999)
        )
        extra = " ".join(rnd.choice(fillers) for _ in range(rnd.randint(0, 25)))
        out.append((f"{text} {extra} #{i}", kind))
    return out


def rows_for(prompts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"prompt": p, "deployment": d, "score": float(good(d, p, kind)), "cost": COST[d]}
        for p, kind in prompts
        for d in (CHEAP, STRONG)
    ]


def stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * len(s)))] * 1e6, 1)

    return {
        "p50_us": q(0.50),
        "p90_us": q(0.90),
        "p99_us": q(0.99),
        "max_us": round(s[-1] * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args()

    from tests.unit.routing.helpers import call, runtime
    from threadpoolctl import threadpool_limits

    from turnout.router.features import FeatureConfig
    from turnout.router.store import Registry
    from turnout.router.training import train
    from turnout.routing.router import Router

    limits = threadpool_limits(args.blas_threads) if args.blas_threads else None
    started = time.perf_counter()
    data = rows_for(corpus(args.examples, seed=1))
    trained = train(data, "knn", features=FeatureConfig(dims=args.dims),
                    params={"k": args.k}, test_size=0.0, seed=0)  # fmt: skip
    fit_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(tmp)
        registry.save(trained.model)
        raw = {
            "providers": {"mock": {"type": "mock"}},
            "models": {"auto": {
                "strategy": "knn",
                "strategy_options": {"router_version": "latest", "registry": tmp},
                "deployments": [{"provider": "mock", "model": "cheap-1"},
                                {"provider": "mock", "model": "strong-1"}],
            }},
        }  # fmt: skip
        rt = runtime(raw)
        router = Router(rt, {"mock": None})  # type: ignore[dict-item]
    plan = router.resolve("auto")
    strategy = plan.strategy
    model = strategy.model  # type: ignore[attr-defined]
    members = list(plan.members)
    queries = corpus(args.queries, seed=2)
    calls = [call("auto", messages=[{"role": "user", "content": p}]) for p, _ in queries]
    for c in calls[:200]:  # warm-up
        strategy.order(list(members), c)
    gc.collect()
    gc.freeze()  # as the gateway does after its start
    order_times, order_cpu, feature_times, estimator_times = [], [], [], []
    cpu = time.thread_time
    picks = {"easy": {CHEAP: 0, STRONG: 0}, "hard": {CHEAP: 0, STRONG: 0}}
    clock = time.perf_counter
    for c, (_, kind) in zip(calls, queries, strict=True):
        c0, t0 = cpu(), clock()
        ordered = strategy.order(list(members), c)
        order_times.append(clock() - t0)
        order_cpu.append(cpu() - c0)
        picks[kind][ordered[0].spec.id] += 1
    for p, _ in queries:
        t0 = clock()
        z = model.features.transform_one(p)
        t1 = clock()
        model.estimator.predict_one(z)
        t2 = clock()
        feature_times.append(t1 - t0)
        estimator_times.append(t2 - t1)
    result = {
        "what": "learned routing: strategy.order() per request, knn",
        "examples": args.examples,
        "index_rows": int(model.estimator.X.shape[0]),
        "dims": int(model.estimator.X.shape[1]),
        "kept_features": len(model.features.kept),
        "k": args.k,
        "queries": args.queries,
        "blas_threads": args.blas_threads or "default",
        "fit_seconds": round(fit_seconds, 1),
        "order": stats(order_times),
        "order_cpu": stats(order_cpu),
        "features": stats(feature_times),
        "knn": stats(estimator_times),
        "picks": picks,
        "quality": {d: QUALITY[d] for d in (CHEAP, STRONG)},
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
    }
    if limits is not None:
        limits.unregister()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    o = result["order"]
    f, k = result["features"], result["knn"]
    print(
        f"knn router, {result['index_rows']} rows x {result['dims']} dims, k={args.k}: "
        f"order() p50 {o['p50_us']} us, p90 {o['p90_us']} us, p99 {o['p99_us']} us "
        f"(features p99 {f['p99_us']} us, knn p99 {k['p99_us']} us)"
    )
    oc = result["order_cpu"]
    print(
        f"CPU time of order(): p50 {oc['p50_us']} us, p90 {oc['p90_us']} us, "
        f"p99 {oc['p99_us']} us (what the machine's other load cannot inflate as much)"
    )
    print(
        f"easy prompts -> cheap {picks['easy'][CHEAP]}/{sum(picks['easy'].values())}, "
        f"hard prompts -> strong {picks['hard'][STRONG]}/{sum(picks['hard'].values())}"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

"""The learned strategies inside the router: decisions, shadow mode, fallbacks, embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from tests.unit.router.synth import rows
from tests.unit.routing.helpers import call, ok, providers, runtime
from turnout.router.features import FeatureConfig
from turnout.router.store import PickleRefused, Registry
from turnout.router.training import Trained, train
from turnout.routing.router import Router
from turnout.routing.strategies import strategy_class

EASY = "What is the capital of Norway?"
HARD = "Prove that the sum of the first 12 odd numbers equals 12 squared, rigorously."


def _raw(registry: Registry, strategy: str = "knn", **options: Any) -> dict[str, Any]:
    return {
        "providers": {"mock": {"type": "mock"}, "other": {"type": "mock"}},
        "models": {
            "auto": {
                "strategy": strategy,
                "strategy_options": {
                    "router_version": "latest",
                    "registry": str(registry.root),
                    **options,
                },
                # Priority puts the strong deployment first: the router must overrule it.
                "deployments": [
                    {"provider": "mock", "model": "strong-1", "priority": 0},
                    {"provider": "mock", "model": "cheap-1", "priority": 1},
                ],
            },
            "embed": {"deployments": [{"provider": "other", "model": "e-1"}]},
        },
    }


def _router(raw: dict[str, Any], log: list[Any] | None = None, **scripts: Any) -> Router:
    rt = runtime(raw)
    return Router(rt, providers(rt, scripts, log if log is not None else []))


def _order(router: Router, text: str) -> tuple[list[str], Any]:
    plan = router.resolve("auto")
    c = call("auto", messages=[{"role": "user", "content": text}])
    members = list(plan.members)
    ordered = plan.strategy.order(members, c)
    return [m.spec.model for m in ordered], c


def test_registered_by_name() -> None:
    for kind in ("knn", "mlp", "svm", "logistic"):
        assert strategy_class(kind).name == kind


def test_easy_prompts_go_cheap_and_hard_ones_strong(registry: Registry) -> None:
    router = _router(_raw(registry))
    order, c = _order(router, EASY)
    assert order == ["cheap-1", "strong-1"]
    decision = c.route
    assert decision["pick"] == "mock/cheap-1" and decision["router"] == "v0001"
    assert decision["score"] >= 0.8 and decision["shadow"] is False
    assert set(decision["scores"]) == {"mock/cheap-1", "mock/strong-1"}
    score, rest = c.route_score.split(b"; ", 1)
    assert float(score) == pytest.approx(decision["score"], abs=1e-4)
    assert rest == b"pick=mock/cheap-1; router=v0001"
    order, c = _order(router, HARD)
    assert order == ["strong-1", "cheap-1"]


def test_shadow_mode_records_but_keeps_the_priority_order(registry: Registry) -> None:
    router = _router(_raw(registry, shadow=True))
    order, c = _order(router, EASY)
    assert order == ["strong-1", "cheap-1"]  # priority, not the router's pick
    assert c.route["pick"] == "mock/cheap-1" and c.route["shadow"] is True
    assert c.route_score.endswith(b"; shadow")


def test_a_target_of_zero_sends_everything_cheap(registry: Registry) -> None:
    router = _router(_raw(registry, quality_target=0.0))
    assert _order(router, HARD)[0][0] == "cheap-1"


def test_tradeoff_mode(registry: Registry) -> None:
    router = _router(_raw(registry, mode="tradeoff", cost_weight=0.05))
    assert _order(router, HARD)[0][0] == "strong-1"
    router = _router(_raw(registry, mode="tradeoff", cost_weight=5.0))
    assert _order(router, HARD)[0][0] == "cheap-1"


def test_requests_without_text_fall_back_to_priority(registry: Registry) -> None:
    router = _router(_raw(registry))
    plan = router.resolve("auto")
    c = call("auto", messages=[{"role": "user", "content": [{"type": "image_url"}]}])
    assert [m.spec.model for m in plan.strategy.order(list(plan.members), c)] == [
        "strong-1",
        "cheap-1",
    ]
    assert c.route is not None and c.route["error"] == "no prompt text"
    assert c.route_score is None


def test_a_router_of_another_kind_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="configure strategy: knn"):
        _router(_raw(registry, strategy="mlp"))


def test_a_pickled_version_stops_the_start_unless_allowed(
    registry: Registry, trained_knn: Trained
) -> None:
    registry.save(trained_knn.model, unsafe_pickle=True)
    with pytest.raises(PickleRefused):
        _router(_raw(registry))
    _router(_raw(registry, allow_pickle=True))


def test_unknown_options_are_config_errors(registry: Registry) -> None:
    from turnout.config.load import ConfigError

    raw = _raw(registry)
    raw["models"]["auto"]["strategy_options"]["quality_tagret"] = 0.5
    with pytest.raises(ConfigError, match="quality_tagret"):
        runtime(raw)
    del raw["models"]["auto"]["strategy_options"]["quality_tagret"]
    del raw["models"]["auto"]["strategy_options"]["router_version"]
    with pytest.raises(ConfigError, match="router_version"):
        runtime(raw)


async def test_the_routed_call_goes_to_the_pick(registry: Registry) -> None:
    log: list[Any] = []
    router = _router(_raw(registry), log)
    c = call("auto", messages=[{"role": "user", "content": EASY}])
    reply = await router(c)
    assert reply.status == 200
    assert log == [("mock", "cheap-1", "")]
    assert c.deployment == "mock/cheap-1"


def _embedding_router(tmp_path: Path, fail: bool = False) -> tuple[Router, list[Any]]:
    def embed(texts: list[str]) -> Any:  # a toy embedding: is it a hard prompt?
        return np.array([[1.0, 0.0] if "rove" in t else [0.0, 1.0] for t in texts], np.float32)

    trained = train(rows(200), "knn", features=FeatureConfig(dims=8, embedding_model="embed"),
                    embed=embed)  # fmt: skip
    reg = Registry(tmp_path / "emb")
    reg.save(trained.model)
    log: list[Any] = []

    def script(deployment: Any, key: str, c: Any) -> Any:
        if c.operation == "embeddings":
            if fail:
                return RuntimeError("embedding deployment down")
            vec = embed([c.data["input"]])[0].tolist()
            return ok(orjson.dumps({"data": [{"index": 0, "embedding": vec}]}))
        return ok()

    return _router(_raw(reg), log, mock=script, other=script), log


async def test_embeddings_are_fetched_through_the_router_and_cached(tmp_path: Path) -> None:
    router, log = _embedding_router(tmp_path)
    for _ in range(2):
        c = call("auto", messages=[{"role": "user", "content": EASY}])
        await router(c)
        assert c.deployment == "mock/cheap-1"
        assert c.route is not None and "error" not in c.route
    assert log.count(("other", "e-1", "")) == 1  # the second prompt came from the cache
    strategy = router.resolve("auto").strategy
    assert len(strategy.embedder.cache) == 1  # type: ignore[attr-defined]


async def test_a_failed_embedding_routes_by_priority(tmp_path: Path) -> None:
    router, _ = _embedding_router(tmp_path, fail=True)
    c = call("auto", messages=[{"role": "user", "content": EASY}])
    reply = await router(c)
    assert reply.status == 200
    assert c.deployment == "mock/strong-1"
    assert c.route is not None and "embedding" in c.route["error"]


def test_a_reload_keeps_the_embeddings_already_fetched(tmp_path: Path) -> None:
    router, _ = _embedding_router(tmp_path)
    strategy = router.resolve("auto").strategy
    strategy.embedder.cache.put("k", np.ones(2, np.float32))  # type: ignore[attr-defined]
    again, _ = _embedding_router(tmp_path / "again")
    fresh = again.resolve("auto").strategy
    fresh.carry(strategy)
    assert fresh.embedder.cache.get("k") is not None  # type: ignore[attr-defined]

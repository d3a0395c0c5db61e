from __future__ import annotations

import asyncio

from tests.unit.routing.helpers import runtime
from turnout.health.board import HealthBoard
from turnout.health.store import MemoryHealthStore

RAW = {
    "providers": {
        "a": {"type": "openai", "api_keys": ["sk-aaaa-0001", "sk-aaaa-0002"]},
        "s": {"type": "openai", "api_keys": ["sk-ssss-0001"], "shared_key_status": True},
    },
    "models": {
        "m1": {"deployments": [{"provider": "a", "model": "x", "max_concurrent": 5}]},
        "m2": {
            "deployments": [
                {"provider": "a", "model": "x", "max_concurrent": 2, "rpm": 10},
                {"provider": "s", "model": "y"},
            ]
        },
        "m3": {"deployments": [{"provider": "s", "model": "z"}]},
    },
}


def test_one_health_per_deployment_with_the_strictest_limits() -> None:
    board = HealthBoard(runtime(RAW))
    assert set(board.deployments) == {"a/x", "s/y", "s/z"}
    x = board.deployments["a/x"]
    assert x.max_concurrent == 2 and x.rpm is not None and x.rpm.limit == 10


def test_key_pools_per_model_or_shared() -> None:
    board = HealthBoard(runtime(RAW))
    assert set(board.pools) == {("a", "x"), ("s", "*")}
    assert board.deployments["s/y"].pool is board.deployments["s/z"].pool
    ids = [k.id for k in board.all_keys()]
    assert all("sk-" not in i for i in ids)  # keys named by fingerprint only
    assert "sk-aaaa" not in repr(next(board.all_keys()))


def test_snapshot_restore_through_the_store() -> None:
    async def scenario() -> None:
        store = MemoryHealthStore()
        board = HealthBoard(runtime(RAW))
        board.deployments["a/x"].eject(0.0 + board.deployments["a/x"].until, "server_error")
        key = next(board.all_keys())
        key.mark("invalid", "invalid_key", 1e12, 0.0)
        await store.save(board.take_dirty())
        assert board.take_dirty() == []
        fresh = HealthBoard(runtime(RAW))
        assert fresh.restore(await store.load()) == 2
        assert fresh.deployments["a/x"].state == "ejected"
        assert next(fresh.all_keys()).state == "invalid"
        # Records of keys no longer configured are ignored.
        assert fresh.restore([{"kind": "key", "id": "gone", "state": "invalid"}]) == 0

    asyncio.run(scenario())

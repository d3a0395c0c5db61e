"""The health service's background work: saving changed targets, restoring them at start."""

from __future__ import annotations

from tests.unit.routing.helpers import runtime
from turnout.health.admin import health_report
from turnout.health.service import HealthService
from turnout.health.store import MemoryHealthStore

RAW = {
    "providers": {"a": {"type": "openai", "api_keys": ["sk-aaaa-0001", "sk-aaaa-0002"]}},
    "models": {"m": {"deployments": [{"provider": "a", "model": "x", "rpm": 10}]}},
}


async def test_changes_are_saved_and_restored_by_the_next_process() -> None:
    store = MemoryHealthStore()
    first = HealthService(runtime(RAW), store)
    await first.start({}, keeper=False)
    deployment = first.board.deployments["a/x"]
    deployment.eject(deployment.until, "server_error")
    await first.flush()
    assert not first.board.journal.events  # logged
    await first.stop()
    second = HealthService(runtime(RAW), store)
    await second.start({}, keeper=False)
    assert second.board.deployments["a/x"].state == "ejected"
    await second.stop()


async def test_report_masks_keys_and_lists_limits() -> None:
    service = HealthService(runtime(RAW))
    report = health_report(service.board)
    assert [k["key"] for k in report["keys"]] == ["sk-…0001", "sk-…0002"]
    (d,) = report["deployments"]
    assert d["limits"] == {"max_concurrent": None, "rpm": 10, "tpm": None}
    assert d["models"] == ["m"] and d["state"] == "active" and d["available"]
    assert "sk-aaaa" not in str(report)

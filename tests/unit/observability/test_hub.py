"""What the config switches on and off, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from tests.unit.observability.helpers import runtime
from turnout.health.board import HealthBoard
from turnout.observability.attempts import RecordedProvider
from turnout.observability.hub import Observability
from turnout.observability.logging import RequestLog
from turnout.state import GatewayState

NO_STATE = cast(GatewayState, None)  # read by the /metrics guard only when it is scraped

OFF: dict[str, Any] = {
    "storage": {"enabled": False},
    "metrics": {"enabled": False},
    "logging": {"requests": False},
}


def test_everything_off_means_no_bookkeeping_at_all() -> None:
    obs = Observability(runtime(**OFF), RequestLog(enabled=False))
    assert obs.routes(NO_STATE) == {} and obs.steps() == []
    assert not obs.usage_wanted and not obs.ask_stream_usage
    providers = {"p": object()}
    assert obs.providers(providers) == providers  # type: ignore[arg-type]


@pytest.mark.asyncio(loop_scope="function")
async def test_defaults_record_into_sqlite_and_serve_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TURNOUT_DATABASE_URL", raising=False)
    rt = runtime(capture={"enabled": True, "dir": str(tmp_path / "cap")})
    log = RequestLog(enabled=False)
    obs = Observability(rt, log)
    assert set(obs.routes(NO_STATE)) == {"/metrics"} and len(obs.steps()) == 1
    assert obs.usage_wanted and obs.ask_stream_usage
    wrapped = obs.providers({"p1": _Fake(rt.providers["p1"])})  # type: ignore[dict-item]
    assert isinstance(wrapped["p1"], RecordedProvider)
    store = await obs.start(HealthBoard(rt))
    try:
        assert store is not None and (tmp_path / "turnout.db").exists()
        assert log._recording and len(log.sinks) == 2  # rows and metrics
    finally:
        await obs.stop()


class _Fake:
    def __init__(self, spec: object) -> None:
        self.spec = spec

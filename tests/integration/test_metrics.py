"""Metrics, traces and capture through a real gateway: ``/metrics`` read with the Prometheus
text parser, spans received by an OTLP/HTTP endpoint of the test's own, capture files read
back from disk."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.metrics import samples
from tests.support.otlp import Collector
from tests.support.procs import Proc, mock_provider, start_gateway

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
UPSTREAM_KEY = "sk-upstream-secret-key-777"


@pytest.fixture(scope="module")
def setup(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("metrics")
    collector = Collector()
    cfg = {
        "providers": {
            "mock": mock_provider(mock, api_keys=[UPSTREAM_KEY]),
            "anthropic": {
                "type": "anthropic",
                "base_url": mock.url,
                "api_keys": [UPSTREAM_KEY],
                "forward_headers": ["x-mock-*"],
            },
        },
        "models": {
            "gpt-test": {"deployments": [{"provider": "mock", "model": "gpt-4o-mini"}]},
            "claude": {"deployments": [{"provider": "anthropic", "model": "claude-3-5-haiku"}]},
        },
        "tracing": {"enabled": True, "endpoint": f"http://127.0.0.1:{collector.port}/v1/traces"},
        "capture": {"enabled": True, "dir": str(tmp / "captures"), "models": ["gpt-*"]},
    }
    gw = start_gateway(cfg, tmp, env={"OTEL_BSP_SCHEDULE_DELAY": "200"})  # export every 0.2 s
    yield {"gw": gw, "collector": collector, "tmp": tmp}
    gw.stop()
    collector.server.shutdown()


def _chat(
    gw: Proc, model: str, stream: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json=body,
        headers={"x-mock-tokens": "5", **(headers or {})},
    )


def _eventually(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_metrics_count_requests_tokens_cost_and_health(setup: dict[str, Any]) -> None:
    gw = setup["gw"]
    before = samples(gw)
    assert _chat(gw, "gpt-test").status_code == 200
    assert _chat(gw, "gpt-test", stream=True).status_code == 200
    assert _chat(gw, "claude", headers={"x-mock-status": "500"}).status_code >= 500
    labels = frozenset({("model", "gpt-test"), ("provider", "mock")})
    failed = (
        "turnout_upstream_failures_total",
        frozenset({("deployment", "anthropic/claude-3-5-haiku"), ("reason", "server_error")}),
    )

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        m = samples(gw)
        key = ("turnout_requests_total", labels | {("status", "200")})
        assert m[key] - before.get(key, 0) == 2
        assert m[failed] - before.get(failed, 0) >= 1
        return m

    m = _eventually(counted)
    assert m[("turnout_tokens_total", labels | {("type", "output")})] >= 10
    assert m[("turnout_cost_usd_total", labels)] > 0  # gpt-4o-mini is in the bundled table
    assert m[("turnout_request_duration_seconds_count", labels)] >= 2
    assert m[("turnout_time_to_first_token_seconds_count", labels)] >= 1
    assert m[("turnout_requests_in_flight", frozenset())] == 0
    deployment = frozenset({("deployment", "mock/gpt-4o-mini"), ("state", "active")})
    assert m[("turnout_deployment_state", deployment)] == 1
    assert m[("turnout_request_log_up", frozenset())] == 1
    assert UPSTREAM_KEY not in httpx.get(gw.url + "/metrics").text


def test_spans_reach_the_collector_with_the_callers_trace(setup: dict[str, Any]) -> None:
    gw, collector = setup["gw"], setup["collector"]
    parent = "b7ad6b7169203331"
    r = _chat(gw, "gpt-test", headers={"traceparent": f"00-{TRACE_ID}-{parent}-01"})
    assert r.status_code == 200

    def exported() -> list[Any]:
        mine = [s for s in collector.spans if s.trace_id.hex() == TRACE_ID]
        assert len(mine) == 2
        return mine

    spans = _eventually(exported)
    server = next(s for s in spans if s.parent_span_id.hex() == parent)
    client = next(s for s in spans if s is not server)
    assert client.parent_span_id == server.span_id
    attrs = {a.key: a.value for a in server.attributes}
    assert attrs["gen_ai.request.model"].string_value == "gpt-test"
    assert attrs["gen_ai.response.model"].string_value == "gpt-4o-mini"
    assert attrs["gen_ai.usage.output_tokens"].int_value == 5
    assert server.name == "chat gpt-test" and client.name == "chat gpt-4o-mini"


def test_capture_files_are_written_and_redacted(setup: dict[str, Any]) -> None:
    gw, folder = setup["gw"], setup["tmp"] / "captures"
    rid = "capture-me-1"
    r = _chat(
        gw,
        "gpt-test",
        stream=True,
        headers={"x-request-id": rid, "authorization": "Bearer sk-client-gateway-key-1"},
    )
    assert r.status_code == 200
    _chat(gw, "claude")  # not a captured model

    def written() -> Path:
        [path] = list(Path(folder).glob(f"*_{rid}.json"))
        return path

    path = _eventually(written)
    text = path.read_text()
    assert "sk-client-gateway-key-1" not in text and UPSTREAM_KEY not in text
    record = orjson.loads(text)
    assert record["request"]["headers"]["authorization"] == "[redacted]"
    assert record["response"]["chunks"][-1]["data"].endswith("data: [DONE]\n\n")
    assert all(not p.name.endswith(".tmp") for p in Path(folder).iterdir())
    assert not any(
        "claude" in orjson.loads(p.read_bytes())["model"] for p in Path(folder).glob("*.json")
    )

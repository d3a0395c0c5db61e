"""Trace context through the A2A gateway, with tracing on: the agent (a real a2a-sdk process
recording its headers) is told the gateway's own span as its parent, whether or not the
caller sent a ``traceparent``; the spans reach an OTLP/HTTP endpoint of the test's own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.a2a.conftest import gateway_config, start_agent
from tests.a2a.test_gateway import send_params
from tests.support.otlp import Collector
from tests.support.procs import Proc, start_gateway

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def traced(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("a2a-traced")
    record = tmp / "agent.jsonl"
    agent = start_agent("quick", "--record", str(record))
    collector = Collector()
    endpoint = f"http://127.0.0.1:{collector.port}/v1/traces"
    cfg = gateway_config(
        mock,
        {"echo": {"url": agent.url}},
        tracing={"enabled": True, "endpoint": endpoint},
    )
    gw = start_gateway(cfg, tmp, env={"OTEL_BSP_SCHEDULE_DELAY": "200"}, ready_within=60)
    yield {"gw": gw, "collector": collector, "record": record}
    gw.stop()
    agent.stop()
    collector.server.shutdown()


def _send(gw: Proc, marker: str, headers: dict[str, str]) -> None:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params(marker)}
    answer = httpx.post(
        f"{gw.url}/a2a/echo",
        json=payload,
        headers={"a2a-version": "1.0", "x-request-id": marker, **headers},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def _told(record: Path, marker: str) -> str:
    """The traceparent the agent received with the call ``marker``."""
    for line in record.read_text().splitlines():
        seen = json.loads(line)
        if seen["headers"].get("x-request-id") == marker:
            return str(seen["headers"]["traceparent"])
    raise AssertionError(f"the agent saw no call {marker}")


def _span(collector: Collector, trace_id: str) -> Any:
    deadline = time.monotonic() + 20
    while True:
        mine = [s for s in collector.spans if s.trace_id.hex() == trace_id]
        if mine:
            [span] = mine
            return span
        assert time.monotonic() < deadline, "the gateway's span never reached the collector"
        time.sleep(0.05)


def test_without_a_callers_trace_the_gateways_span_starts_one(traced: dict[str, Any]) -> None:
    marker = uuid.uuid4().hex
    _send(traced["gw"], marker, {})
    version, trace_id, span_id, flags = _told(traced["record"], marker).split("-")
    assert (version, flags) == ("00", "01")
    span = _span(traced["collector"], trace_id)
    assert span.name == "SendMessage a2a/echo"
    assert span.span_id.hex() == span_id  # the agent's parent is the gateway's span
    assert span.parent_span_id == b""  # a root: the caller sent no trace


def test_a_callers_trace_goes_on_through_the_gateways_span(traced: dict[str, Any]) -> None:
    marker = uuid.uuid4().hex
    caller = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "tracestate": "vendor=x"}
    _send(traced["gw"], marker, caller)
    _, trace_id, span_id, flags = _told(traced["record"], marker).split("-")
    assert trace_id == CALLER_TRACE and span_id != CALLER_SPAN and flags == "01"
    span = _span(traced["collector"], CALLER_TRACE)
    assert span.parent_span_id.hex() == CALLER_SPAN  # the gateway's span: the caller's child
    assert span.span_id.hex() == span_id  # and the agent's parent
    seen = [json.loads(line) for line in traced["record"].read_text().splitlines()]
    [headers] = [s["headers"] for s in seen if s["headers"].get("x-request-id") == marker]
    assert headers["tracestate"] == "vendor=x"

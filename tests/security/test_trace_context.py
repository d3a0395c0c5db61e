"""A caller's trace context is checked before the gateway uses it.

OpenTelemetry's propagator logged a warning quoting each invalid ``tracestate`` member (up to
8 KB of the caller's text per request in the gateway's log), and one for each ``traceparent``
over 512 characters; a valid ``tracestate`` of up to 8 KB went on every span. Now the
gateway reads them itself first (docs/security.md, "A caller's trace context").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.otlp import Collector
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import found

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
MARK = "FORGED-TRACESTATE-TEXT"


@pytest.fixture(scope="module")
def traced(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    collector = Collector()
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "gpt-4o-mini"}]}},
        "tracing": {"enabled": True, "endpoint": collector.endpoint},
    }
    gw = start_gateway(
        config, tmp_path_factory.mktemp("trace-context"), env={"OTEL_BSP_SCHEDULE_DELAY": "100"}
    )
    yield {"gw": gw, "collector": collector}
    gw.stop()
    collector.server.shutdown()


def _call(gw: Proc, rid: str, headers: dict[str, str]) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-request-id": rid, **headers},
    )


def _server_span(collector: Collector, rid: str) -> Any:
    def exported() -> Any:
        for span in list(collector.spans):
            attrs = {a.key: a.value.string_value for a in span.attributes}
            if attrs.get("turnout.request_id") == rid:
                return span
        return None

    return found(exported, 20, 0.05)


def test_an_invalid_tracestate_is_dropped_without_a_log_line(traced: dict[str, Any]) -> None:
    gw, collector = traced["gw"], traced["collector"]
    parent = f"00-{TRACE}-{PARENT}-01"
    _call(gw, "ts-invalid", {"traceparent": parent, "tracestate": f"ok=1,{MARK} x=1"})
    _call(gw, "tp-long", {"traceparent": parent + "-" + "a" * 600})
    members = ",".join(f"k{i}=" + "v" * 60 for i in range(30))  # valid, 2 KB
    _call(gw, "ts-long", {"traceparent": parent, "tracestate": members})

    long_span = _server_span(collector, "ts-long")  # the last call: every line is written
    output = gw.output()
    assert MARK not in output, output[-2000:]
    assert "maximum length" not in output and "w3c" not in output
    invalid = _server_span(collector, "ts-invalid")
    assert invalid.trace_id.hex() == TRACE and invalid.parent_span_id.hex() == PARENT
    assert invalid.trace_state == ""  # dropped whole, as OpenTelemetry drops it
    assert _server_span(collector, "tp-long").trace_id.hex() != TRACE  # not a traceparent
    kept = long_span.trace_state
    assert 0 < len(kept) <= 512 and members.startswith(kept)  # the leading members that fit

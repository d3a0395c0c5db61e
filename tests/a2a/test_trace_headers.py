"""With tracing off, an A2A agent is passed the caller's trace context only when it is valid:
a ``traceparent`` as version 00 and a checked, bounded ``tracestate``. Before, both headers
were relayed as the caller sent them, whatever they held (docs/security.md, "A caller's trace
context")."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.a2a.conftest import gateway_config, start_agent
from tests.a2a.test_gateway import send_params
from tests.support.procs import Proc, start_gateway

pytestmark = pytest.mark.timeout(90)

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def untraced(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("a2a-untraced")
    record = tmp / "agent.jsonl"
    agent = start_agent("quick", "--record", str(record))
    gw = start_gateway(gateway_config(mock, {"echo": {"url": agent.url}}), tmp, ready_within=60)
    yield {"gw": gw, "record": record}
    gw.stop()
    agent.stop()


def _seen(setup: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
    marker = uuid.uuid4().hex
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params(marker)}
    answer = httpx.post(
        f"{setup['gw'].url}/a2a/echo",
        json=payload,
        headers={"a2a-version": "1.0", "x-request-id": marker, **headers},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    for line in Path(setup["record"]).read_text().splitlines():
        seen: dict[str, str] = json.loads(line)["headers"]
        if seen.get("x-request-id") == marker:
            return seen
    raise AssertionError("the agent saw no such call")


def test_only_a_valid_trace_context_reaches_the_agent(untraced: dict[str, Any]) -> None:
    bad = _seen(untraced, {"traceparent": "00-not-a-trace-01", "tracestate": "vendor=x"})
    assert "traceparent" not in bad and "tracestate" not in bad
    good = _seen(untraced, {"traceparent": PARENT, "tracestate": "vendor=x, other=y"})
    assert good["traceparent"] == PARENT and good["tracestate"] == "vendor=x,other=y"
    junk = _seen(untraced, {"traceparent": PARENT, "tracestate": "vendor=x,bad member=1"})
    assert junk["traceparent"] == PARENT and "tracestate" not in junk
    members = ",".join(f"k{i}=" + "v" * 60 for i in range(30))  # valid, 2 KB
    long = _seen(untraced, {"traceparent": PARENT, "tracestate": members})
    assert 0 < len(long["tracestate"]) <= 512 and members.startswith(long["tracestate"])

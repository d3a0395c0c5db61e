"""A hostile upstream's token counts on translated routes: what the gateway counts of them
(the request log line, its cost) stays a count it can store, whatever the upstream's usage
holds, and the client still gets its answer or a 502 in its own shape.

test_upstream_usage.py does this for the same-protocol paths (against PostgreSQL); here every
translated cell, whole and streamed, with the request log line on the gateway's stdout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.answers import PAIRS, UPSTREAMS, error_shape, request
from tests.security.test_upstream_usage import ANSWERS, _fits, usage_of
from tests.support.procs import Proc, start_gateway, start_scripted
from tests.support.request_log import request_line

COUNTS: list[Any] = [-5, 2**31, 2**63 - 1, 2**64 - 1, 1e300, -1e300, 3.5, "12", True, None]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = Path(tmp_path_factory.mktemp("xusage"))
    upstream = start_scripted({}, tmp)
    providers = {
        name: {
            "type": kind,
            "base_url": upstream.url + suffix,
            "api_keys": ["k-00000001"],
            "forward_headers": ["x-scripted-*"],
        }
        for name, (kind, suffix, _) in UPSTREAMS.items()
    }
    price = {"input": 1.0, "output": 2.0}
    models = {
        f"to-{name}": {"deployments": [{"provider": name, "model": "up", "price": price, **extra}]}
        for name, (_, _, extra) in UPSTREAMS.items()
    }
    config = {
        "storage": {"enabled": False},
        "providers": providers,
        "models": models,
        # Every failure is the answer's, not the deployment's: nothing cools down.
        "routing": {
            "max_attempts": 1,
            "overloaded_retries": 0,
            "cooldowns": {"rate_limited": 0},
            "breaker": {"consecutive_failures": 1_000_000, "min_requests": 1_000_000},
        },
    }
    proc = start_gateway(config, tmp)
    yield proc
    proc.stop()
    upstream.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_odd_counts_on_a_translated_route_count_within_bounds(
    gateway: Proc, upstream: str, client: str, stream: bool
) -> None:
    path, body = request(client, f"to-{upstream}", stream)
    if client == "chat" and stream:
        body["stream_options"] = {"include_usage": True}
    for n in COUNTS:
        for usage in (usage_of(upstream, n), n):
            rid = uuid.uuid4().hex
            headers = {**ANSWERS[upstream](usage, stream), "x-request-id": rid}
            data = b""
            try:
                with httpx.stream(
                    "POST", gateway.url + path, json=body, headers=headers, timeout=30
                ) as reply:
                    status = reply.status_code
                    for chunk in reply.iter_raw():
                        data += chunk
            except httpx.RemoteProtocolError:
                pass
            assert status in (200, 502), (n, status, data[-300:])
            if status == 502:
                error_shape(client, json.loads(data))
            line = request_line(gateway, rid)
            _fits(line)


def test_nothing_crashed_inside_the_gateway(gateway: Proc) -> None:
    output = gateway.output()
    assert "Traceback" not in output and "request failed" not in output, output[-3000:]

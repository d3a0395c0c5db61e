"""Issue 12 item 10: ``/metrics`` label cardinality.

Before: every model name a glob route accepted became a label value (1 KB names, NUL, CR/LF
included); after 6,000 requests ``/metrics`` was 138 MB and one scrape blocked the event loop
for 2.2 s. Now a model is labelled with the public name or pattern that served it, a failed
attempt with its configured deployment (``provider/*`` for one forwarding the client's name),
hostile names never get that far (400), and every label has a hard cap on distinct values.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import Proc, start_gateway

N = 300


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    def provider(**headers: str) -> dict[str, object]:
        return {
            "type": "openai-compatible",
            "base_url": rogue_server.url + "/v1",
            "api_keys": ["sk-up-000001"],
            "headers": headers,
        }

    config = {
        "storage": {"enabled": False},
        "metrics": {"max_label_values": 4},
        "routing": {"max_attempts": 1, "breaker": {"consecutive_failures": 1000000}},
        "providers": {"up": provider(), "down": provider(**{"x-rogue-status": "500"})},
        "models": {
            "glob-*": {"deployments": [{"provider": "up"}]},
            "fail-*": {"deployments": [{"provider": "down"}]},
            **{f"exact-{i}": {"deployments": [{"provider": "up"}]} for i in range(6)},
        },
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("labels"))
    yield proc
    proc.stop()


def _labels(gateway: Proc, metric: str, label: str) -> set[str]:
    text = httpx.get(gateway.url + "/metrics").text
    return {
        s.labels[label]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == metric
    }


def _post(gateway: Proc, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body).status_code


def _counted(gateway: Proc) -> float:
    text = httpx.get(gateway.url + "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "turnout_requests_total"
    )


def _wait_for(gateway: Proc, total: float) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _counted(gateway) >= total:
            return
        time.sleep(0.05)
    raise AssertionError("the drain did not count every request")


def test_client_chosen_names_never_become_labels(gateway: Proc) -> None:
    names = [f"glob-{i:04d}-" + "x" * 200 for i in range(N)]
    names += [f"fail-{i:04d}" for i in range(N // 6)]
    hostile = ["glob-\x00", "glob-\r\nx", "glob-" + "y" * 1024, "glob-é"]
    before = _counted(gateway)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda m: _post(gateway, m), names + hostile))
    assert statuses[-len(hostile) :] == [400] * len(hostile)
    _wait_for(gateway, before + len(names) + len(hostile))
    models = _labels(gateway, "turnout_requests_total", "model")
    assert models <= {"glob-*", "fail-*", "(unknown)"}
    deployments = _labels(gateway, "turnout_upstream_failures_total", "deployment")
    assert deployments == {"down/*"}
    assert len(httpx.get(gateway.url + "/metrics").content) < 64 * 1024


def test_every_label_has_a_hard_cap(gateway: Proc) -> None:
    before = _counted(gateway)
    for i in range(6):
        assert _post(gateway, f"exact-{i}") == 200
    _wait_for(gateway, before + 6)
    models = _labels(gateway, "turnout_requests_total", "model")
    assert len(models) <= 5 and "(overflow)" in models  # four values, then the overflow bucket

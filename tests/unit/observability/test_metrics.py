"""Metrics counted from finished calls, read back through the Prometheus text parser."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.observability.helpers import call, runtime
from turnout.health.board import HealthBoard
from turnout.observability.finish import Finisher
from turnout.observability.labels import deployment_labels, route_names
from turnout.observability.logging import RequestLog
from turnout.observability.metrics import Metrics
from turnout.pricing import PriceTable, bundled


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _metrics() -> tuple[Metrics, Finisher, Any]:
    rt = runtime()
    metrics = Metrics([0.01, 0.1, 1.0], route_names(rt), deployment_labels(rt))
    finisher = Finisher(PriceTable(table=bundled()), rt.providers)
    return metrics, finisher, rt


def test_requests_latency_tokens_and_cost() -> None:
    metrics, finisher, _ = _metrics()
    done = [
        finisher.finish(call(), 0.05),
        finisher.finish(call(stream=True, ttft=0.005), 0.5),
        finisher.finish(call(status=502, error="server_error", usage=None), 2.0),
        finisher.finish(call(model="nope", deployment=None, status=404, usage=None), 0.001),
    ]
    metrics.observe(done)
    s = _samples(metrics)
    labels = (("model", "gpt-x"), ("provider", "p1"))
    assert s[("turnout_requests_total", (*labels, ("status", "200")))] == 2
    assert s[("turnout_requests_total", (*labels, ("status", "502")))] == 1
    unknown = (("model", "(unknown)"), ("provider", ""), ("status", "404"))
    assert s[("turnout_requests_total", unknown)] == 1
    hist = "turnout_request_duration_seconds"
    assert s[(hist + "_bucket", (("le", "0.1"), *labels))] == 1
    assert s[(hist + "_bucket", (("le", "1.0"), *labels))] == 2
    assert s[(hist + "_bucket", (("le", "+Inf"), *labels))] == 3
    assert s[(hist + "_count", labels)] == 3
    assert s[(hist + "_sum", labels)] == 2.55
    assert s[("turnout_time_to_first_token_seconds_count", labels)] == 1
    assert s[("turnout_tokens_total", (*labels, ("type", "input")))] == 200
    assert s[("turnout_tokens_total", (*labels, ("type", "cached")))] == 80
    cost = 2 * (60 * 2.5 + 40 * 1.25 + 20 * 10.0) / 1e6
    assert abs(s[("turnout_cost_usd_total", labels)] - cost) < 1e-12


def test_unpriced_cache_and_attempt_failures() -> None:
    metrics, finisher, _ = _metrics()
    c = call(deployment="p1/homegrown", cache="miss")
    c.notes = [("p2/claude-3-5-haiku", "k", 0.0, 0.1, 529, b"{}")]
    metrics.observe([finisher.finish(c, 0.1), finisher.finish(call(cache="hit"), 0.001)])
    s = _samples(metrics)
    assert s[("turnout_unpriced_requests_total", (("model", "gpt-x"), ("provider", "p1")))] == 1
    assert s[("turnout_cache_requests_total", (("model", "gpt-x"), ("result", "hit")))] == 1
    failures = (("deployment", "p2/claude-3-5-haiku"), ("reason", "overloaded"))
    assert s[("turnout_upstream_failures_total", failures)] == 1


def test_learned_router_decisions() -> None:
    metrics, finisher, _ = _metrics()
    routed, shadow, fallback = call(), call(), call()
    routed.route = {"pick": "p1/small", "shadow": False}
    shadow.route = {"pick": "p1/small", "shadow": True}
    fallback.route = {"error": "no prompt text"}
    metrics.observe([finisher.finish(c, 0.01) for c in (routed, routed, shadow, fallback, call())])
    s = _samples(metrics)

    def n(pick: str, outcome: str) -> float:
        key = (("model", "gpt-x"), ("outcome", outcome), ("pick", pick))
        return s[("turnout_route_decisions_total", key)]

    assert (n("p1/small", "routed"), n("p1/small", "shadow"), n("", "fallback")) == (2, 1, 1)


def test_live_gauges_from_health_and_the_request_log() -> None:
    metrics, _, rt = _metrics()
    board = HealthBoard(rt)
    board.deployments["p2/claude-3-5-haiku"].fail(0.0, "server_error")
    for _ in range(10):
        board.deployments["p2/claude-3-5-haiku"].fail(0.0, "server_error")
    log = RequestLog()
    log.inflight = 3
    metrics.board, metrics.request_log = board, log
    s = _samples(metrics)
    assert s[("turnout_requests_in_flight", ())] == 3
    assert s[("turnout_deployment_state", (("deployment", "p1/gpt-4o"), ("state", "active")))] == 1
    ejected = (("deployment", "p2/claude-3-5-haiku"), ("state", "ejected"))
    assert s[("turnout_deployment_state", ejected)] == 1
    keys = [k for k in s if k[0] == "turnout_key_state"]
    assert len(keys) == 2 and all("secret" not in str(k) for k in keys)


def test_labels_are_configured_names_and_capped() -> None:
    rt = runtime(
        models={
            "gpt-x": {"deployments": [{"provider": "p1", "model": "gpt-4o"}]},
            "g-*": {"deployments": [{"provider": "p2"}]},
        }
    )
    metrics = Metrics([1.0], route_names(rt), deployment_labels(rt), max_label_values=2)
    finisher = Finisher(PriceTable(table=bundled()), rt.providers)
    done = []
    for i in range(50):  # fifty names a glob accepts: one label, the pattern
        c = call(model=f"g-client-chosen-{i}", deployment=f"p2/g-client-chosen-{i}", status=500)
        c.notes = [(f"p2/g-client-chosen-{i}", "k", 0.0, 0.1, 500, b"{}")]
        done.append(finisher.finish(c, 0.1))
    done.append(finisher.finish(call(model="nope", deployment=None, status=404), 0.1))
    metrics.observe(done)
    for status in (201, 202):  # a third distinct status exceeds the cap of two
        metrics.observe([finisher.finish(call(status=status), 0.1)])
    s = _samples(metrics)
    models = {dict(k[1])["model"] for k in s if k[0] == "turnout_requests_total"}
    assert models == {"g-*", "(unknown)", "(overflow)"}  # gpt-x came third
    statuses = {dict(k[1])["status"] for k in s if k[0] == "turnout_requests_total"}
    assert statuses == {"500", "404", "(overflow)"}
    failures = {dict(k[1])["deployment"] for k in s if k[0] == "turnout_upstream_failures_total"}
    assert failures == {"p2/*"}


async def test_conversation_records_written_behind_are_counted() -> None:
    from turnout.conversations.store import MemoryConversationStore
    from turnout.conversations.writer import WriteBehind

    metrics, _, _ = _metrics()
    assert not any(k[0].startswith("turnout_conversation") for k in _samples(metrics))
    writer = WriteBehind(MemoryConversationStore(max_entries=10))
    metrics.conversations = writer
    writer.written, writer.dropped, writer.failed = 5, 2, 1
    got = _samples(metrics)
    assert got[("turnout_conversation_records_pending", ())] == 0
    assert got[("turnout_conversation_records_written_total", ())] == 5
    assert got[("turnout_conversation_records_dropped_total", ())] == 2
    assert got[("turnout_conversation_records_failed_total", ())] == 1

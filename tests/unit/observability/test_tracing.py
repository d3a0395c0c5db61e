"""Spans built after the fact from finished calls, captured with the in-memory exporter."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.unit.observability.helpers import call, runtime
from turnout.config.observability import TracingConfig
from turnout.observability.finish import Finisher
from turnout.observability.tracing import Tracing
from turnout.pricing import PriceTable, bundled

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def _tracing(ratio: float = 1.0) -> tuple[Tracing, InMemorySpanExporter, Finisher]:
    rt = runtime()
    exporter = InMemorySpanExporter()
    tracing = Tracing(TracingConfig(enabled=True, sample_ratio=ratio), rt.providers, exporter)
    return tracing, exporter, Finisher(PriceTable(table=bundled()), rt.providers)


def test_request_span_with_attempt_children_and_genai_attributes() -> None:
    tracing, exporter, finisher = _tracing()
    c = call(attempts=2, headers={b"traceparent": f"00-{TRACE_ID}-{PARENT}-01".encode()})
    t0 = c.started
    c.notes = [
        ("p2/claude-3-5-haiku", "fp2", t0 + 0.001, t0 + 0.010, 503, b'{"error":{}}'),
        ("p1/gpt-4o", "fp1", t0 + 0.011, t0 + 0.040, 200, None),
    ]
    c.deployment = "p1/gpt-4o"
    tracing.observe([finisher.finish(c, 0.05)])
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request = spans["chat gpt-x"]
    assert request.kind is SpanKind.SERVER
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert request.parent is not None and format(request.parent.span_id, "016x") == PARENT
    attrs = request.attributes or {}
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-x"
    assert attrs["gen_ai.response.model"] == "gpt-4o"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert request.end_time is not None and request.start_time is not None
    assert request.end_time - request.start_time == 50_000_000
    failed, ok = spans["chat claude-3-5-haiku"], spans["chat gpt-4o"]
    for child in (failed, ok):
        assert child.kind is SpanKind.CLIENT
        assert child.parent is not None and child.parent.span_id == request.context.span_id
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "overloaded"
    assert (ok.attributes or {})["server.address"] == "api.example.com"
    assert failed.start_time is not None and ok.start_time is not None
    assert failed.start_time < ok.start_time
    assert "sk-" not in str([s.attributes for s in spans.values()])


def test_a_new_trace_without_traceparent_and_errors_marked() -> None:
    tracing, exporter, finisher = _tracing()
    tracing.observe([finisher.finish(call(status=502, error="server_error"), 0.01)])
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "server_error"


def test_sampling_off_records_nothing_but_a_sampled_parent_wins() -> None:
    tracing, exporter, finisher = _tracing(ratio=0.0)
    tracing.observe([finisher.finish(call(), 0.01)])
    assert exporter.get_finished_spans() == ()
    sampled = call(headers={b"traceparent": f"00-{TRACE_ID}-{PARENT}-01".encode()})
    tracing.observe([finisher.finish(sampled, 0.01)])
    assert len(exporter.get_finished_spans()) == 1
    asyncio.run(tracing.close())


def test_an_outgoing_parent_is_the_span_built_later() -> None:
    """A call that told an agent its span (traceparent) gets a span with exactly those ids:
    in a new trace when the caller sent none, in the caller's trace (as its child) when it
    did; other spans keep random ids."""
    tracing, exporter, finisher = _tracing()
    fresh = call()
    sent, continued = tracing.outgoing(fresh)
    assert not continued
    version, trace_id, span_id, flags = sent.split("-")
    assert (version, flags) == ("00", "01")
    tracing.observe([finisher.finish(fresh, 0.01)])
    child = call(headers={b"traceparent": f"00-{TRACE_ID}-{PARENT}-01".encode()})
    sent_child, continued = tracing.outgoing(child)
    assert continued and sent_child.split("-")[1] == TRACE_ID
    tracing.observe([finisher.finish(child, 0.01), finisher.finish(call(), 0.01)])
    own, of_caller, other = exporter.get_finished_spans()
    assert own.parent is None
    assert format(own.context.trace_id, "032x") == trace_id
    assert format(own.context.span_id, "016x") == span_id
    assert format(of_caller.context.trace_id, "032x") == TRACE_ID
    assert of_caller.parent is not None and format(of_caller.parent.span_id, "016x") == PARENT
    assert format(of_caller.context.span_id, "016x") == sent_child.split("-")[2]
    assert other.context.trace_id not in (own.context.trace_id, of_caller.context.trace_id)


def test_an_outgoing_parent_keeps_the_sampling_decision() -> None:
    tracing, exporter, finisher = _tracing(ratio=0.0)
    unsampled = call()
    assert tracing.outgoing(unsampled)[0].endswith("-00")  # the agent is told: not sampled
    not_sampled = call(headers={b"traceparent": f"00-{TRACE_ID}-{PARENT}-00".encode()})
    assert tracing.outgoing(not_sampled)[0].endswith("-00")
    tracing.observe([finisher.finish(unsampled, 0.01), finisher.finish(not_sampled, 0.01)])
    assert exporter.get_finished_spans() == ()

"""OpenTelemetry traces: a span per request, a child span per upstream attempt.

Spans are built *after* the request, in the log drain, from what the call recorded (its start,
each attempt's timings, its usage) with explicit start and end times; the request path creates
no span objects and touches no context. The request span's parent is the client's
``traceparent`` when it sent a valid one (read through
:mod:`turnout.observability.tracecontext`, which bounds it and its ``tracestate``).
Attributes follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``). The provider
is owned by the gateway (never installed as the global one), exported over OTLP/HTTP by a
batch processor on its own thread.

Because span ids exist only after the fact, the gateway does not forward a ``traceparent`` of
its own to providers; a client's ``traceparent`` reaches a provider only through that
provider's ``forward_headers``. A call that must name its span as the parent of a request it
sends (an A2A agent's) fixes the span's ids first with :meth:`Tracing.outgoing`; the span
built later takes them (:class:`_Ids`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode

from turnout.config.compile import ProviderSpec
from turnout.config.observability import TracingConfig
from turnout.observability.finish import Finished
from turnout.observability.tracecontext import CallerContext
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call

# gen_ai.operation.name of each protocol's operations (their descriptors say).
_OPERATIONS = {op.name: op.otel for wire in PROTOCOLS.values() for op in wire.operations if op.otel}


class _Ids(RandomIdGenerator):
    """Random ids, except for the span being built while ``pinned`` holds ids fixed earlier
    (spans are built one at a time, in the log drain)."""

    def __init__(self) -> None:
        self.pinned: tuple[int, int] | None = None

    def generate_trace_id(self) -> int:
        return self.pinned[0] if self.pinned is not None else super().generate_trace_id()

    def generate_span_id(self) -> int:
        return self.pinned[1] if self.pinned is not None else super().generate_span_id()


class _ExporterScrub(logging.Filter):
    """Hides the collector's credentials in the OpenTelemetry exporter's own log lines.

    The exporter logs each failed export with the request's URL (``Transient error
    HTTPConnectionPool(...): Max retries exceeded with url: /v1/traces?api_key=…``), so a
    credential in ``tracing.endpoint``'s query or userinfo reached the gateway's log on every
    retry while the collector was down. Installed on the root logger's handlers (records of
    every ``opentelemetry`` logger reach them) for as long as this tracing lives."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and record.name.startswith("opentelemetry"):
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def _collector_secrets(config: TracingConfig) -> list[str]:
    """What of the collector's configuration is a credential: the endpoint's userinfo and
    query values, every header value (a collector's headers exist to sign in)."""
    found = [str(v) for v in config.headers.values()]
    try:
        parts = urlsplit(config.endpoint)
        found += [parts.username or "", parts.password or ""]
    except ValueError:
        return found
    for pair in parts.query.split("&"):
        value = pair.partition("=")[2]
        found += [value, unquote(value)]
    return found


class Tracing:
    def __init__(
        self,
        config: TracingConfig,
        providers: Mapping[str, ProviderSpec],
        exporter: SpanExporter | None = None,
    ) -> None:
        resource = Resource.create({"service.name": config.service_name})
        sampler = ParentBased(TraceIdRatioBased(config.sample_ratio))
        self.ids = _Ids()
        self.sampler = sampler
        self.provider = TracerProvider(resource=resource, sampler=sampler, id_generator=self.ids)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            otlp = OTLPSpanExporter(endpoint=config.endpoint, headers=dict(config.headers))
            self.provider.add_span_processor(BatchSpanProcessor(otlp))
        else:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.scrub = _ExporterScrub(_collector_secrets(config))
        for handler in logging.getLogger().handlers:
            handler.addFilter(self.scrub)
        self.tracer = self.provider.get_tracer("turnout")
        self.caller = CallerContext()  # the caller's traceparent, checked
        self.use(providers)

    def use(self, providers: Mapping[str, ProviderSpec]) -> None:
        """Name providers' systems and servers by the (reloaded) config."""
        self._types = {name: _otel_name(s.type) for name, s in providers.items()}
        self._servers = {name: _server(s.base_url) for name, s in providers.items()}

    def outgoing(self, call: Call) -> tuple[str, bool]:
        """The ``traceparent`` naming ``call``'s span (its ids fixed now) as the parent of a
        request the gateway sends for it, and whether it continues the caller's trace (a
        child of the caller's ``traceparent``) rather than starting one."""
        context = self.caller.span(call.headers)
        if context is not None:
            trace_id, sampled = context.trace_id, context.trace_flags.sampled
        else:
            trace_id = self.ids.generate_trace_id()
            decision = self.sampler.should_sample(None, trace_id, "outgoing").decision
            sampled = decision is Decision.RECORD_AND_SAMPLE
        span_id = self.ids.generate_span_id()
        call.span = (trace_id, span_id)
        return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}", context is not None

    def observe(self, finished: Iterable[Finished]) -> None:
        for done in finished:
            self._request(done)

    def _request(self, done: Finished) -> None:
        call = done.call
        parent = self.caller.extract(call.headers)
        operation = _OPERATIONS.get(call.operation, call.operation)
        start = int(done.wall * 1e9)
        upstream = call.deployment.split("/", 1)[1] if call.deployment else None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": call.model,
            "http.request.method": "POST",
            "http.response.status_code": call.status,
            "url.path": call.path,
            "turnout.request_id": call.request_id,
            "turnout.protocol": call.protocol,
            "turnout.attempts": call.attempts,
            "gen_ai.request.stream": call.stream,
        }
        if done.provider is not None:
            attributes["gen_ai.provider.name"] = self._types.get(done.provider, done.provider)
            attributes["turnout.provider"] = done.provider
        if upstream is not None:
            attributes["gen_ai.response.model"] = upstream
            attributes["turnout.deployment"] = call.deployment
        _request_params(call.protocol, call.data, attributes)
        if (usage := done.usage) is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
            attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
            if usage.cached_tokens:
                attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
            if usage.reasoning_tokens:
                attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        if done.cost is not None:
            attributes["turnout.cost_usd"] = done.cost
        if call.ttft is not None and call.stream:
            attributes["gen_ai.response.time_to_first_chunk"] = call.ttft
        if call.error is not None:
            attributes["error.type"] = call.error
        self.ids.pinned = call.span  # ids the agent was already told of, if any
        try:
            span = self.tracer.start_span(
                f"{operation} {call.model}",
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
                start_time=start,
            )
        finally:
            self.ids.pinned = None
        if call.error is not None or call.status >= 500:
            span.set_status(Status(StatusCode.ERROR, call.error))
        if span.is_recording():
            context = trace.set_span_in_context(span)
            shift = done.wall - call.started  # perf_counter -> epoch seconds
            for attempt in done.attempts:
                self._attempt(context, operation, attempt, shift)
        span.end(end_time=start + int(done.latency * 1e9))

    def _attempt(self, context: Any, operation: str, attempt: Any, shift: float) -> None:
        label = attempt.deployment or ""
        provider, _, model = label.partition("/")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": self._types.get(provider, provider),
            "gen_ai.request.model": model,
            "turnout.provider": provider,
            "turnout.deployment": label,
            "turnout.key": attempt.key_id,
            "http.response.status_code": attempt.status,
        }
        host, port = self._servers.get(provider, (None, None))
        if host is not None:
            attributes["server.address"] = host
            attributes["server.port"] = port
        if attempt.reason is not None:
            attributes["error.type"] = attempt.reason
        span = self.tracer.start_span(
            f"{operation} {model}",
            context=context,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=int((attempt.started + shift) * 1e9),
        )
        if attempt.reason is not None:
            span.set_status(Status(StatusCode.ERROR, attempt.reason))
        span.end(end_time=int((attempt.ended + shift) * 1e9))

    async def close(self) -> None:
        # Flushing exports over HTTP: in a thread, so a slow collector cannot stall the loop.
        await asyncio.to_thread(self.provider.shutdown)
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self.scrub)


def _otel_name(type_name: str) -> str:
    """gen_ai.provider.name of a provider type (its descriptor says)."""
    from turnout.providers.registry import UnknownProviderType, provider_type

    try:
        return provider_type(type_name).otel_name
    except UnknownProviderType:
        return type_name


def _request_params(protocol: str, data: dict[str, Any], attributes: dict[str, Any]) -> None:
    """The sampling parameters the request asked for, in its protocol's spelling."""
    wire = PROTOCOLS.get(protocol)
    if wire is None:
        return
    asked = wire.asked(data)
    for attribute, value in (
        ("gen_ai.request.max_tokens", asked.max_tokens),
        ("gen_ai.request.temperature", asked.temperature),
        ("gen_ai.request.top_p", asked.top_p),
    ):
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = value


def _server(base_url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None
    return parts.hostname, port

"""A caller's W3C trace context (``traceparent``, ``tracestate``), read without trusting it.

A caller's trace context becomes the parent of the gateway's spans and is passed on to A2A
agents, so it is checked here, once, before OpenTelemetry's propagator reads it:

- a ``traceparent`` longer than 512 characters is ignored (the propagator would log a warning
  for each such request);
- a ``tracestate`` is kept only when every list-member is a valid ``key=value`` and there are
  at most 32 of them, and only the leading members that fit in 512 characters are kept (the
  length W3C asks every vendor to propagate). An invalid one is dropped whole, as
  OpenTelemetry drops it, but silently: the propagator logged a warning quoting the member,
  up to 8 KB of the caller's text in the gateway's log per request.

Nothing else of the caller's (``baggage`` included) is read here; a provider receives trace
headers only through its ``forward_headers``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT_MAX = 512
TRACESTATE_MAX = 512
TRACESTATE_MEMBERS = 32
# A list-member as W3C Trace Context defines it (the key's multi-tenant form included).
_MEMBER = re.compile(
    r"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)


def clean_tracestate(value: str) -> str | None:
    """The caller's ``tracestate`` as the gateway keeps it, or None when it is not valid."""
    if len(value) > TRACESTATE_MAX * 16:  # no need to split a huge header to refuse it
        return None
    members = [m.strip(" \t") for m in value.split(",")]
    members = [m for m in members if m]
    if len(members) > TRACESTATE_MEMBERS:
        return None
    keys = set()
    for member in members:
        if _MEMBER.fullmatch(member) is None:
            return None
        keys.add(member.partition("=")[0])
    if len(keys) != len(members):  # a key named twice
        return None
    kept: list[str] = []
    size = -1
    for member in members:
        size += len(member) + 1
        if size > TRACESTATE_MAX:
            break
        kept.append(member)
    return ",".join(kept) or None


class TraceHeaders:
    """OpenTelemetry's getter over the call's raw ``{bytes: bytes}`` headers, giving it only
    a ``traceparent`` of a plausible length and a valid, bounded ``tracestate``."""

    def get(self, carrier: Mapping[bytes, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.encode())
        if value is None:
            return None
        text = value.decode("latin-1")
        if key == "traceparent":
            return [text] if len(text) <= TRACEPARENT_MAX else None
        if key == "tracestate":
            state = clean_tracestate(text)
            return None if state is None else [state]
        return [text]

    def keys(self, carrier: Mapping[bytes, bytes]) -> list[str]:
        return [k.decode("latin-1") for k in carrier]


class CallerContext:
    """Reads a call's trace context through :class:`TraceHeaders` (stateless: one per user)."""

    def __init__(self) -> None:
        self.propagator = TraceContextTextMapPropagator()
        self.getter = TraceHeaders()

    def extract(self, headers: Mapping[bytes, bytes]) -> Context | None:
        """The OpenTelemetry context whose span is the caller's, None without a traceparent."""
        if b"traceparent" not in headers:
            return None
        return self.propagator.extract(headers, getter=self.getter)  # type: ignore[arg-type]

    def span(self, headers: Mapping[bytes, bytes]) -> SpanContext | None:
        """The caller's span when it sent a valid ``traceparent``, else None."""
        context = self.extract(headers)
        if context is None:
            return None
        span = trace.get_current_span(context).get_span_context()
        return span if span.is_valid else None

    def relayed(self, headers: Mapping[bytes, bytes]) -> list[tuple[str, str]]:
        """The caller's trace headers as passed on unchanged while tracing is off: a valid
        ``traceparent`` (as version 00) and its cleaned ``tracestate``; nothing for an
        invalid one."""
        span = self.span(headers)
        if span is None:
            return []
        out = [
            ("traceparent", f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}")
        ]
        state = span.trace_state.to_header()
        if state:
            out.append(("tracestate", state))
        return out

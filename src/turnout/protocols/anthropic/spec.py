"""The Anthropic Messages protocol, as the gateway knows it."""

from __future__ import annotations

from typing import Any

from turnout.protocols.anthropic import (
    cache,
    errors,
    request,
    response,
    routes,
    shapes,
    stream,
    usage,
)
from turnout.protocols.descriptor import COUNT, GENERATE, Asked, Operation, Variant, WireProtocol
from turnout.protocols.policy import Harmless, falsy
from turnout.protocols.shape import checked
from turnout.types import Call

HARMLESS: dict[str, Harmless] = {
    "service_tier": None,
    "inference_geo": None,
    "container": falsy,
    "mcp_servers": falsy,
    # Context editing trims old tool results and thinking server-side to save context; an
    # upstream without it sees the whole conversation, which costs tokens but changes no answer.
    # Claude Code sends it on every call.
    "context_management": None,
}
# The IR speaks OpenAI-like field names; an Anthropic client is told its own.
CLIENT_FIELDS = {"response_format": "output_config.format"}
_COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def variant(call: Call) -> Variant:
    return Variant("anthropic", call.model)


def count_request(data: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """A generation body as ``/v1/messages/count_tokens`` takes it (fewer fields)."""
    return {k: data[k] for k in _COUNT_FIELDS if k in data}


def usage_from_response(body: dict[str, Any]) -> Any:
    raw = body.get("usage")
    return response.usage_to_ir(raw) if isinstance(raw, dict) else None


def asked(data: dict[str, Any]) -> Asked:
    return Asked(data.get("max_tokens"), data.get("temperature"), data.get("top_p"))


def probe(model: str) -> tuple[str, dict[str, Any]]:
    return "messages", {
        "model": model,
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "ping"}],
    }


PROTOCOL = WireProtocol(
    name="anthropic",
    operations=(Operation("messages", GENERATE, "chat"), Operation("count_tokens", COUNT)),
    routes={"/v1/messages": routes.MESSAGES, "/v1/messages/count_tokens": routes.COUNT_TOKENS},
    claims_path=lambda path: path.startswith("/v1/messages"),
    # A complete stream ends with message_stop; without it the client's raw iterator would
    # take a cut stream for a finished one.
    stream_terminator=b"message_stop",
    variant=variant,
    request_to_ir=lambda call: request.to_ir(checked(shapes.REQUEST, call.data)),
    request_from_ir=request.from_ir,
    check_response=shapes.RESPONSE.check,
    response_to_ir=response.to_ir,
    response_from_ir=response.from_ir,
    decoder=stream.StreamDecoder,
    encoder=lambda v: stream.StreamEncoder(v.model),
    harmless=HARMLESS,
    client_fields=CLIENT_FIELDS,
    count_request=count_request,
    parse_error=errors.parse,
    render_error=errors.render,
    error_body=errors.gateway_body,
    error_frame=errors.gateway_frame,
    usage_from_body=usage.from_body,
    usage_observer=lambda call, ask: usage.AnthropicStream(),
    usage_from_response=usage_from_response,
    cache_fields=cache.fields,
    cross_servable=cache.cross_servable,
    asked=asked,
    conversation=lambda data: (data.get("system"), data.get("messages")),
    probe=probe,
)

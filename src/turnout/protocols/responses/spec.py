"""The OpenAI Responses API, as the gateway knows it.

To an OpenAI provider a Responses call is forwarded as bytes (the provider type lists
``responses`` among the protocols it speaks, :mod:`turnout.providers.openai`); to any other
provider it is translated through the IR like the other protocols.
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.descriptor import (
    COUNT,
    GENERATE,
    Asked,
    Operation,
    Variant,
    WireProtocol,
)
from turnout.protocols.policy import Harmless, falsy
from turnout.protocols.responses import (
    cache,
    errors,
    request,
    response,
    routes,
    shapes,
    stream,
    usage,
)
from turnout.protocols.shape import checked
from turnout.types import Call

# Fields another protocol may drop (policy.py explains): storage and caching hints,
# `include` (reasoning state always comes back in `encrypted_content`), truncation (nothing
# is truncated elsewhere either).
HARMLESS: dict[str, Harmless] = {
    "store": None,
    "include": None,
    "service_tier": None,
    "prompt_cache_key": None,
    "prompt_cache_retention": None,
    "safety_identifier": None,
    "stream_options": None,
    "truncation": None,
    "max_tool_calls": None,
    "background": falsy,
    "top_logprobs": falsy,
    "conversation": falsy,
    "prompt": falsy,
    "previous_response_id": falsy,
}
# The IR speaks Chat Completions field names; a Responses client is told its own.
CLIENT_FIELDS = {
    "messages": "input",
    "response_format": "text.format",
    "max_tokens": "max_output_tokens",
}


_COUNT_FIELDS = (
    "model", "input", "instructions", "tools", "tool_choice", "text", "reasoning",
    "parallel_tool_calls",
)  # fmt: skip


def count_request(data: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """A generation body as ``/responses/input_tokens`` takes it (fewer fields)."""
    return {k: data[k] for k in _COUNT_FIELDS if k in data}


def count_result(tokens: int) -> dict[str, Any]:
    return {"object": "response.input_tokens", "input_tokens": tokens}


def variant(call: Call) -> Variant:
    return Variant("responses", call.model)


def asked(data: dict[str, Any]) -> Asked:
    # Any ``background`` but absent or false is taken as one (a wrong type is OpenAI's 400).
    background = data.get("background") not in (None, False)
    return Asked(
        data.get("max_output_tokens"),
        data.get("temperature"),
        data.get("top_p"),
        unmetered="background" if background else None,
    )


def conversation(data: dict[str, Any]) -> tuple[Any, Any]:
    return data.get("instructions"), data.get("input")


def probe(model: str) -> tuple[str, dict[str, Any]]:
    return "responses", {"model": model, "max_output_tokens": 16, "input": "ping", "store": False}


PROTOCOL = WireProtocol(
    name="responses",
    operations=(Operation("responses", GENERATE, "chat"), Operation("input_tokens", COUNT)),
    routes={
        "/v1/responses": routes.RESPONSES,
        "/responses": routes.RESPONSES,
        "/v1/responses/input_tokens": routes.INPUT_TOKENS,
        "/responses/input_tokens": routes.INPUT_TOKENS,
    },
    claims_path=lambda path: path.startswith(("/v1/responses", "/responses")),
    # The last event carries the whole response, so no fixed bytes end a stream; a cut one is
    # found by its decoder when translated, and by the SDK (no response.completed) otherwise.
    stream_terminator=None,
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
    count_result=count_result,
    parse_error=errors.parse,
    render_error=errors.render,
    error_body=errors.gateway_body,
    error_frame=errors.gateway_frame,
    usage_from_body=usage.from_body,
    usage_observer=lambda call, ask: usage.ResponsesStream(),
    usage_from_response=lambda body: response.usage_to_ir(body.get("usage")),
    cache_fields=cache.fields,
    cross_servable=cache.cross_servable,
    asked=asked,
    conversation=conversation,
    probe=probe,
)

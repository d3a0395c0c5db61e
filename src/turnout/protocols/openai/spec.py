"""The OpenAI Chat Completions and Embeddings protocol, as the gateway knows it, with OpenAI's
other operations (legacy completions, moderations, images and their edits and variations, speech,
transcriptions and translations) passed through to OpenAI-compatible upstreams only."""

from __future__ import annotations

from typing import Any

from turnout.protocols.descriptor import (
    COMPLETE,
    EMBED,
    GENERATE,
    IMAGE,
    MODERATE,
    SPEECH,
    TRANSCRIBE,
    Asked,
    Operation,
    Variant,
    WireProtocol,
)
from turnout.protocols.openai import (
    cache,
    errors,
    request,
    response,
    routes,
    shapes,
    stream,
    usage,
)
from turnout.protocols.policy import Harmless, falsy, text_only
from turnout.protocols.shape import checked
from turnout.types import Call

# Fields an OpenAI request may carry that another protocol may drop (policy.py explains).
HARMLESS: dict[str, Harmless] = {
    "store": None,
    "service_tier": None,
    "prompt_cache_key": None,
    "prompt_cache_retention": None,
    "safety_identifier": None,
    "verbosity": None,
    "stream_options": None,
    "logprobs": falsy,
    "top_logprobs": falsy,
    "logit_bias": falsy,
    "modalities": text_only,
    "audio": falsy,
    "prediction": falsy,
    "functions": falsy,
    "function_call": falsy,
    "web_search_options": falsy,
}


def include_usage(call: Call) -> bool:
    options = call.data.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def variant(call: Call) -> Variant:
    return Variant("openai", call.model, include_usage=include_usage(call))


def asked(data: dict[str, Any]) -> Asked:
    tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    choices = data.get("n")
    # Legacy completions generate ``best_of`` answers upstream (all billed) and return ``n``.
    best = data.get("best_of")
    if type(best) is int and (type(choices) is not int or best > choices):
        choices = best
    return Asked(tokens, data.get("temperature"), data.get("top_p"), choices)


def probe(model: str) -> tuple[str, dict[str, Any]]:
    return "chat", {
        "model": model,
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "ping"}],
    }


PROTOCOL = WireProtocol(
    name="openai",
    operations=(
        Operation("chat", GENERATE, "chat"),
        Operation("embeddings", EMBED, "embeddings"),
        Operation("completions", COMPLETE, "text_completion"),
        Operation("moderations", MODERATE),
        # Uploads (multipart forms) first: by_family names each family's last operation.
        Operation("image_edits", IMAGE, form=True),
        Operation("image_variations", IMAGE, form=True),
        Operation("translations", TRANSCRIBE, form=True),
        Operation("images", IMAGE),
        Operation("speech", SPEECH),
        Operation("transcriptions", TRANSCRIBE, form=True),
    ),
    routes={
        "/v1/chat/completions": routes.CHAT,
        "/chat/completions": routes.CHAT,
        "/v1/embeddings": routes.EMBEDDINGS,
        "/embeddings": routes.EMBEDDINGS,
        "/v1/completions": routes.COMPLETIONS,
        "/completions": routes.COMPLETIONS,
        "/v1/moderations": routes.MODERATIONS,
        "/moderations": routes.MODERATIONS,
        "/v1/images/generations": routes.IMAGES,
        "/images/generations": routes.IMAGES,
        "/v1/audio/speech": routes.SPEECH,
        "/audio/speech": routes.SPEECH,
        "/v1/audio/transcriptions": routes.TRANSCRIPTIONS,
        "/audio/transcriptions": routes.TRANSCRIPTIONS,
        "/v1/audio/translations": routes.TRANSLATIONS,
        "/audio/translations": routes.TRANSLATIONS,
        "/v1/images/edits": routes.IMAGE_EDITS,
        "/images/edits": routes.IMAGE_EDITS,
        "/v1/images/variations": routes.IMAGE_VARIATIONS,
        "/images/variations": routes.IMAGE_VARIATIONS,
    },
    stream_terminator=b"[DONE]",
    variant=variant,
    request_to_ir=lambda call: request.to_ir(checked(shapes.REQUEST, call.data)),
    request_from_ir=request.from_ir,
    check_response=shapes.RESPONSE.check,
    response_to_ir=response.to_ir,
    response_from_ir=response.from_ir,
    decoder=stream.StreamDecoder,
    encoder=lambda v: stream.StreamEncoder(v.model, include_usage=v.include_usage),
    harmless=HARMLESS,
    parse_error=errors.parse,
    render_error=errors.render,
    error_body=errors.gateway_body,
    error_frame=errors.gateway_frame,
    usage_from_body=usage.from_body,
    usage_observer=usage.observe,
    usage_from_response=lambda body: response.usage_to_ir(body.get("usage")),
    cache_fields=cache.fields,
    cross_servable=cache.cross_servable,
    asked=asked,
    conversation=lambda data: (None, data.get("messages")),  # the system prompt is a message
    probe=probe,
)

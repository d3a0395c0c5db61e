"""The Gemini API (generateContent, countTokens, embeddings), as the gateway knows it."""

from __future__ import annotations

from typing import Any

from turnout.ir import IRRequest
from turnout.protocols.descriptor import (
    COUNT,
    EMBED,
    EMBED_BATCH,
    GENERATE,
    Asked,
    EmbedCodec,
    Operation,
    Variant,
    WireProtocol,
)
from turnout.protocols.gemini import (
    cache,
    embed,
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

HARMLESS: dict[str, Harmless] = {
    "safetySettings": None,
    "labels": None,
    "cachedContent": falsy,
    "generationConfig.mediaResolution": None,
    "generationConfig.responseModalities": text_only,
    "generationConfig.responseLogprobs": falsy,
    "generationConfig.logprobs": falsy,
    "generationConfig.audioTimestamp": falsy,
    "generationConfig.enableEnhancedCivicAnswers": None,
    "generationConfig.speechConfig": falsy,
    "generationConfig.routingConfig": None,
    "generationConfig.modelSelectionConfig": None,
}
# The IR speaks OpenAI-like field names; a Gemini client is told its own.
CLIENT_FIELDS = {
    "n": "generationConfig.candidateCount",
    "top_k": "generationConfig.topK",
    "presence_penalty": "generationConfig.presencePenalty",
    "frequency_penalty": "generationConfig.frequencyPenalty",
    "response_format": "generationConfig.responseMimeType",
    "messages": "contents",
}


def request_to_ir(call: Call) -> IRRequest:
    data = call.data
    where = ""
    if call.operation == "countTokens" and isinstance(data.get("generateContentRequest"), dict):
        data, where = data["generateContentRequest"], "generateContentRequest"
    return request.to_ir(checked(shapes.REQUEST, data, where), call.model, stream=call.stream)


def variant(call: Call) -> Variant:
    return Variant("gemini", call.model, sse=routes.sse_requested(call))


def count_request(data: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """A generation body as ``:countTokens`` takes it: wrapped, without generationConfig."""
    data.pop("generationConfig", None)
    return {"generateContentRequest": {"model": f"models/{upstream_model}", **data}}


def asked(data: dict[str, Any]) -> Asked:
    config = data.get("generationConfig")
    if not isinstance(config, dict):
        return Asked()
    return Asked(
        config.get("maxOutputTokens"),
        config.get("temperature"),
        config.get("topP"),
        config.get("candidateCount"),
    )


def conversation(data: dict[str, Any]) -> tuple[Any, Any]:
    system = data.get("systemInstruction") or data.get("system_instruction")
    return system, data.get("contents")


def probe(model: str) -> tuple[str, dict[str, Any]]:
    return "generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
        "generationConfig": {"maxOutputTokens": 1},
    }


def claims_path(path: str) -> bool:
    return path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path)


PROTOCOL = WireProtocol(
    name="gemini",
    operations=(
        Operation("generateContent", GENERATE, "generate_content"),
        Operation("countTokens", COUNT),
        Operation("embedContent", EMBED, "embeddings"),
        Operation("batchEmbedContents", EMBED_BATCH, "embeddings"),
    ),
    routes={},
    model_paths=routes.MODEL_PATHS,
    claims_path=claims_path,
    # Gemini streams have no terminator: a cut stream is caught by the translating decoders
    # (no finishReason) but not on a same-protocol passthrough, where nothing is parsed.
    stream_terminator=None,
    variant=variant,
    request_to_ir=request_to_ir,
    request_from_ir=request.from_ir,
    check_response=shapes.check_response,
    response_to_ir=response.to_ir,
    response_from_ir=response.from_ir,
    decoder=stream.StreamDecoder,
    encoder=lambda v: stream.StreamEncoder(v.model, sse=v.sse),
    harmless=HARMLESS,
    client_fields=CLIENT_FIELDS,
    count_request=count_request,
    count_result=lambda tokens: {"totalTokens": tokens},
    embed_to={"openai": EmbedCodec(embed.request_to_openai, embed.response_from_openai)},
    parse_error=errors.parse,
    render_error=errors.render,
    error_body=errors.gateway_body,
    error_frame=errors.gateway_frame,
    usage_from_body=usage.from_body,
    usage_observer=lambda call, ask: usage.GeminiStream(),
    usage_from_response=lambda body: response.usage_to_ir(body.get("usageMetadata")),
    cache_fields=cache.fields,
    cross_servable=cache.cross_servable,
    as_sse=stream.array_to_frames,
    asked=asked,
    conversation=conversation,
    probe=probe,
)

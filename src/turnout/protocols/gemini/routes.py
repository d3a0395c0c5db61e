"""Gemini inbound operations: ``POST /{v1beta|v1}/models/{model}:{action}``.

The model and the action live in the path, so these routes are matched by prefix after the
exact-path lookup misses (the hot path stays one dict lookup for the other protocols).
Clients authenticate with ``x-goog-api-key`` or ``?key=``; the query string is never
forwarded, so the client's key cannot reach an upstream URL or its logs.

``:streamGenerateContent`` answers SSE when the client asks for ``alt=sse`` (google-genai
always does) and otherwise one JSON array written element by element, as the REST API does.
"""

from __future__ import annotations

from typing import Any

from turnout.errors import BadRequest
from turnout.protocols.descriptor import ModelPaths, Route
from turnout.types import Call, Scope

PREFIXES = ("/v1beta/models/", "/v1/models/")


def split(path: str) -> tuple[str, str] | None:
    """(model, action) of a Gemini model path, or None for any other path."""
    return MODEL_PATHS.split(path)


def sse_requested(call: Call) -> bool:
    """Whether a Gemini stream is answered as SSE rather than one JSON array.

    A Gemini client chooses with ``alt=sse`` (google-genai always sends it). A call without a
    client path was built by the gateway (a translated request, a health probe) and always
    streams SSE, the only framing the stream decoders read incrementally.
    """
    if call.protocol != "gemini" or not call.path:
        return True
    return b"alt=sse" in call.query.split(b"&")


def _model(scope: Scope) -> str:
    parts = split(scope["path"])
    if parts is None or not parts[0]:
        raise BadRequest("The model name is missing from the request path")
    return parts[0]


def _once(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return _model(scope), False


def _stream(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return _model(scope), True


ACTIONS: dict[str, Route] = {
    "generateContent": Route("generateContent", _once),
    "streamGenerateContent": Route("generateContent", _stream),
    "countTokens": Route("countTokens", _once),
    "embedContent": Route("embedContent", _once),
    "batchEmbedContents": Route("batchEmbedContents", _once),
}
MODEL_PATHS = ModelPaths(PREFIXES, ACTIONS)

"""Gemini inbound endpoints: ``POST /{v1beta|v1}/models/{model}:{action}``.

The model and the action live in the path, so these routes are matched by prefix after the
exact-path lookup misses (the hot path stays one dict lookup for the other protocols).
Clients authenticate with ``x-goog-api-key`` or ``?key=``; the query string is never
forwarded, so the client's key cannot reach an upstream URL or its logs.

``:streamGenerateContent`` answers SSE when the client asks for ``alt=sse`` (google-genai
always does) and otherwise one JSON array written element by element, as the REST API does.
"""

from __future__ import annotations

from typing import Any

from turnout.api.endpoint import Inbound
from turnout.errors import BadRequest
from turnout.types import Scope

PREFIXES = ("/v1beta/models/", "/v1/models/")


def split(path: str) -> tuple[str, str] | None:
    """(model, action) of a Gemini model path, or None for any other path."""
    for prefix in PREFIXES:
        if path.startswith(prefix):
            model, sep, action = path[len(prefix) :].rpartition(":")
            return (model, action) if sep else None
    return None


def _model(scope: Scope) -> str:
    parts = split(scope["path"])
    if parts is None or not parts[0]:
        raise BadRequest("The model name is missing from the request path")
    return parts[0]


def _once(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return _model(scope), False


def _stream(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return _model(scope), True


# Gemini streams have no terminator: a cut stream is caught by the translating decoders
# (no finishReason) but not on a same-protocol passthrough, where nothing is parsed.
ACTIONS: dict[str, Inbound] = {
    "generateContent": Inbound("gemini", "generateContent", _once),
    "streamGenerateContent": Inbound("gemini", "generateContent", _stream),
    "countTokens": Inbound("gemini", "countTokens", _once),
    "embedContent": Inbound("gemini", "embedContent", _once),
    "batchEmbedContents": Inbound("gemini", "batchEmbedContents", _once),
}

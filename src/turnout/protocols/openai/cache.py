"""OpenAI Chat Completions and Embeddings: what changes the answer."""

from __future__ import annotations

from typing import Any

from turnout.protocols.canonical import canonical
from turnout.types import Call

# Transport, accounting and routing hints: the same request with other values gets the same
# answer. ``model`` is hashed separately as the public model.
IGNORED = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
    }
)


def fields(call: Call) -> dict[str, Any]:
    return canonical(call.data, IGNORED)


def cross_servable(call: Call) -> bool:
    """Several choices, logprobs, audio and web-search annotations do not survive the IR."""
    data = call.data
    n = data.get("n")
    if n not in (None, 1):
        return False
    if data.get("logprobs") or data.get("top_logprobs"):
        return False
    if data.get("web_search_options") is not None:
        return False
    modalities = data.get("modalities")
    return not (isinstance(modalities, list) and "audio" in modalities)

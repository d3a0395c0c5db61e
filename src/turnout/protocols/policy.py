"""Which source-protocol fields may be dropped when translating to another protocol.

``to_ir`` keeps every field it cannot map in ``IRRequest.extras``. A same-family ``from_ir``
re-emits them; any other target consults this table: a field listed here is dropped when the
target would ignore it anyway (or when its value is the default), anything else raises a
TranslationError naming the field. Keys starting with ``_`` are internal markers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.ir import IRRequest, TranslationError

Harmless = Callable[[Any], bool] | None


def _falsy(value: Any) -> bool:
    return not value


def _text_only(value: Any) -> bool:
    return value in (None, ["text"], ["TEXT"], ["Text"])


HARMLESS: dict[str, dict[str, Harmless]] = {
    "openai": {
        "store": None,
        "service_tier": None,
        "prompt_cache_key": None,
        "prompt_cache_retention": None,
        "safety_identifier": None,
        "verbosity": None,
        "stream_options": None,
        "logprobs": _falsy,
        "top_logprobs": _falsy,
        "logit_bias": _falsy,
        "modalities": _text_only,
        "audio": _falsy,
        "prediction": _falsy,
        "functions": _falsy,
        "function_call": _falsy,
        "web_search_options": _falsy,
    },
    "anthropic": {
        "service_tier": None,
        "inference_geo": None,
        "container": _falsy,
        "mcp_servers": _falsy,
        "context_management": _falsy,
    },
    "gemini": {
        "safetySettings": None,
        "labels": None,
        "cachedContent": _falsy,
        "generationConfig.mediaResolution": None,
        "generationConfig.responseModalities": _text_only,
        "generationConfig.responseLogprobs": _falsy,
        "generationConfig.logprobs": _falsy,
        "generationConfig.audioTimestamp": _falsy,
        "generationConfig.enableEnhancedCivicAnswers": None,
        "generationConfig.speechConfig": _falsy,
        "generationConfig.routingConfig": None,
        "generationConfig.modelSelectionConfig": None,
    },
}


def check_extras(req: IRRequest, target: str) -> None:
    """Raise for the first unmapped source field that the ``target`` cannot honour."""
    if req.source == target or not req.extras:
        return
    table = HARMLESS.get(req.source, {})
    for key, value in req.extras.items():
        if key.startswith("_"):
            continue
        if key in table:
            check = table[key]
            if check is None or check(value):
                continue
        raise TranslationError(key, f"has no equivalent in the {target} protocol")

"""Gemini generateContent and embeddings: what changes the answer.

The model is in the path, and ``:generateContent`` and ``:streamGenerateContent`` are one
operation, so the body is all there is; ``labels`` only tag billing.
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.canonical import canonical
from turnout.types import Call

IGNORED = frozenset({"model", "labels"})
_FUNCTION_TOOLS = frozenset({"functionDeclarations", "function_declarations"})


def fields(call: Call) -> dict[str, Any]:
    out = canonical(call.data, IGNORED)
    config = out.get("generationConfig")
    if isinstance(config, dict):
        config = canonical(config)
        if config:
            out["generationConfig"] = config
        else:
            del out["generationConfig"]
    return out


def cross_servable(call: Call) -> bool:
    """Several candidates, logprobs and grounding (search, code execution) do not survive the
    IR."""
    data = call.data
    config = data.get("generationConfig")
    if isinstance(config, dict):
        if config.get("candidateCount") not in (None, 1):
            return False
        if config.get("responseLogprobs"):
            return False
    tools = data.get("tools")
    for tool in tools if isinstance(tools, list) else ():  # any JSON may be here
        if isinstance(tool, dict) and not set(tool) <= _FUNCTION_TOOLS:
            return False
    return True

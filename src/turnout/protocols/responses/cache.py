"""Responses API: what changes the answer."""

from __future__ import annotations

from typing import Any

from turnout.protocols.canonical import canonical
from turnout.types import Call

IGNORED = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "include",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "background",
    }
)


def fields(call: Call) -> dict[str, Any]:
    return canonical(call.data, IGNORED)


def cross_servable(call: Call) -> bool:
    """A conversation kept by OpenAI (``previous_response_id``, ``conversation``) or a
    built-in tool's trace does not survive the IR."""
    data = call.data
    if data.get("previous_response_id") or data.get("conversation"):
        return False
    tools = data.get("tools")
    return not (
        isinstance(tools, list)
        and any(isinstance(t, dict) and t.get("type", "function") != "function" for t in tools)
    )

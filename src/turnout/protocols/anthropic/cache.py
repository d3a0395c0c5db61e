"""Anthropic Messages: what changes the answer.

Besides the body, ``anthropic-beta`` (enables features) and ``anthropic-version`` (the response
shape) change what comes back, so they are part of the key.
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.canonical import canonical
from turnout.types import Call

IGNORED = frozenset({"model", "stream", "metadata", "service_tier"})
_HEADERS = (b"anthropic-beta", b"anthropic-version")


def fields(call: Call) -> dict[str, Any]:
    out = canonical(call.data, IGNORED)
    for name in _HEADERS:
        value = call.headers.get(name)
        if value is not None:
            out[f"header:{name.decode()}"] = value.decode("latin-1")
    return out


def cross_servable(call: Call) -> bool:
    """Server tools, MCP servers and citations produce blocks the IR does not carry."""
    data = call.data
    if data.get("mcp_servers") or data.get("container"):
        return False
    tools = data.get("tools")
    for tool in tools if isinstance(tools, list) else ():  # any JSON may be here
        if isinstance(tool, dict) and tool.get("type") not in (None, "custom"):
            return False
    return b'"citations"' not in call.body

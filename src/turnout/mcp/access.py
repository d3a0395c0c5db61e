"""Who is calling ``/mcp`` and what it may see and use.

The caller presents its gateway key (``Authorization: Bearer``, as on ``/v1``). The key's and
its team's ``metadata.mcp`` carry the MCP settings, one rule for tools, prompts and resources:

    {"servers": ["github", "notes"],      # server globs; absent or empty: every server
     "allow": ["github__search_*"],       # item globs; absent or empty: everything
     "deny": ["*__delete_*"],             # item globs, always win
     "tool_rpm": 60}                      # tool calls per minute

An item is named as in the aggregate: ``server__tool``, ``server__prompt``,
``server+uri`` for resources and templates. The key and its team must both allow an item
(as with models); a denied item is neither listed nor usable. With authentication off the
gateway is open, as ``/v1`` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from turnout.mcp.names import allowed, matches


def _globs(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(p for p in raw if isinstance(p, str))


@dataclass(frozen=True, slots=True)
class Layer:
    """One source of settings (a key or a team)."""

    servers: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    tool_rpm: int | None = None

    @classmethod
    def of(cls, metadata: Mapping[str, Any] | None) -> Layer:
        raw = metadata.get("mcp") if isinstance(metadata, Mapping) else None
        if not isinstance(raw, Mapping):
            return cls()
        rpm = raw.get("tool_rpm")
        return cls(
            servers=_globs(raw.get("servers")),
            allow=_globs(raw.get("allow")),
            deny=_globs(raw.get("deny")),
            tool_rpm=rpm
            if isinstance(rpm, int) and not isinstance(rpm, bool) and rpm > 0
            else None,
        )

    def server(self, name: str) -> bool:
        return not self.servers or matches(self.servers, name)

    def item(self, name: str) -> bool:
        return allowed(self.allow, self.deny, name)

    def denies(self, name: str) -> bool:
        return matches(self.deny, name)


@dataclass(frozen=True, slots=True)
class Access:
    key_id: str | None = None  # None: authentication is off
    team: str | None = None
    key: Layer = Layer()
    team_layer: Layer = Layer()

    def server(self, name: str) -> bool:
        return self.key.server(name) and self.team_layer.server(name)

    def item(self, server: str, name: str) -> bool:
        """``name`` is the item's aggregate name (``server__tool`` or ``server+uri``)."""
        return self.server(server) and self.key.item(name) and self.team_layer.item(name)

    def denies(self, name: str) -> bool:
        """Whether a deny rule of the key or its team names ``name`` (a URI a template made
        is checked against them, besides the template's own name)."""
        return self.key.denies(name) or self.team_layer.denies(name)

    def limits(self) -> list[tuple[str, int]]:
        """(scope, tool calls per minute) this caller counts against."""
        out: list[tuple[str, int]] = []
        if self.key.tool_rpm is not None and self.key_id is not None:
            out.append((f"k:{self.key_id}", self.key.tool_rpm))
        if self.team_layer.tool_rpm is not None and self.team is not None:
            out.append((f"t:{self.team}", self.team_layer.tool_rpm))
        return out


OPEN = Access()

"""MCP requests and sessions that end when their key no longer stands as it did.

A key is checked when a request arrives; most requests end soon after. MCP's do not have to:
a session's standing GET stream, a ``subscriptions/listen`` stream and a subscription made
with ``resources/subscribe`` last as long as the client wants. Before (2026-12-08), a key
revoked (or rotated, or its team deleted) kept receiving resource updates on the streams it
held, for as long as it held them, and a key whose MCP rules changed kept what the old rules
had admitted. Now each request of a key is held under a cancel scope with the key's standing
when it arrived (its secret's hash, its team, its and its team's MCP rules); when the key
directory changes (and every :data:`SWEEP` seconds, for keys that expire), a key whose
standing is gone has its requests cancelled and its sessions terminated (its subscriptions go
with them), so it learns at once and must come back with a key that is valid now.

A key's other settings (limits, budgets, names) leave its streams alone. The master key and
an open gateway have nothing to revoke.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from turnout.mcp.access import Access, Layer

if TYPE_CHECKING:
    from turnout.auth.directory import Directory

SWEEP = 5.0  # seconds between two looks at keys that may have expired


def _rules(layer: Layer) -> tuple[tuple[str, ...], ...]:
    """What a layer lets a key see and use (its ``tool_rpm`` is counted per call anyway)."""
    return (layer.servers, layer.allow, layer.deny)


@dataclass(frozen=True, slots=True)
class Standing:
    """A key as it was when one of its requests arrived."""

    key_hash: str
    team: str | None
    key_rules: tuple[tuple[str, ...], ...]
    team_rules: tuple[tuple[str, ...], ...]


def standing_of(directory: Directory, access: Access) -> Standing | None:
    """The standing of ``access``'s key now; None for the master key or an open gateway."""
    record = directory.keys.get(access.key_id) if access.key_id is not None else None
    if record is None:
        return None
    return Standing(record.hash, access.team, _rules(access.key), _rules(access.team_layer))


def still(directory: Directory, key_id: str, was: Standing, now: datetime) -> bool:
    """Whether ``key_id`` still authenticates as it did, under the same MCP rules."""
    record = directory.keys.get(key_id)
    if record is None or record.revoked or record.hash != was.key_hash:
        return False
    if record.expired(now):
        return False
    if record.team != was.team or _rules(Layer.of(record.metadata)) != was.key_rules:
        return False
    if record.team is None:
        return True
    team = directory.teams.get(record.team)
    return team is not None and team.active and _rules(Layer.of(team.metadata)) == was.team_rules


class LiveRequests:
    """The MCP requests in progress, by key, each under its own cancel scope."""

    def __init__(self) -> None:
        self.live: dict[str, dict[anyio.CancelScope, Standing]] = {}

    @contextmanager
    def held(self, key_id: str, standing: Standing) -> Iterator[anyio.CancelScope]:
        """Run a request of ``key_id`` inside the scope this gives: cancelled if the key's
        standing goes (``scope.cancelled_caught`` then says so)."""
        with anyio.CancelScope() as scope:
            scopes = self.live.setdefault(key_id, {})
            scopes[scope] = standing
            try:
                yield scope
            finally:
                scopes.pop(scope, None)
                if not scopes and self.live.get(key_id) is scopes:
                    del self.live[key_id]

    def sweep(self, directory: Directory) -> None:
        """Cancel the requests of every key whose standing is gone."""
        now = datetime.now(UTC)
        for key_id, scopes in list(self.live.items()):
            for scope, standing in list(scopes.items()):
                if not still(directory, key_id, standing, now):
                    scope.cancel()

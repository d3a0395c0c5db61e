"""What a team admin (an operator whose OIDC claims name teams) may change: its own teams'
keys, nothing else.

A team admin reads what a viewer reads. Its writes reach the admin API only where the guard,
which sees the path and the body, finds them within its teams: creating a key for one of its
teams, and changing, rotating or revoking a key that belongs to one (without moving it to
another team). Every other write is refused (403).

Scopes are the admin API's roles: a team admin neither gives a key one (that would mint an
admin or viewer key out of a team's key) nor touches a key of its team that has one (rotating
it would hand over an admin secret).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from fastapi import Request

    from turnout.state import GatewayState

_KEY = re.compile(r"^/admin/keys/([^/]+)(/rotate)?$")


async def team_write_allowed(state: GatewayState, teams: tuple[str, ...], request: Request) -> bool:
    path, method = request.url.path, request.method.upper()
    body: Any = None
    if method in ("POST", "PATCH"):
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return False
        if not isinstance(body, dict):
            return False
    if isinstance(body, dict) and body.get("scopes"):
        return False
    if path == "/admin/keys" and method == "POST":
        return isinstance(body, dict) and body.get("team") in teams
    found = _KEY.match(path)
    if found is None or state.auth is None:
        return False
    record = state.auth.directory.keys.get(found.group(1))
    if record is None or record.team not in teams or record.scopes:
        return False
    if found.group(2):
        return method == "POST"
    if method == "PATCH":
        return body is None or body.get("team", record.team) in teams
    return method == "DELETE"

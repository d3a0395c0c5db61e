"""Agents as entries the admin API stores (:mod:`turnout.live.managed`, kind ``agent``): kept
in the database, loaded by every replica and by a restarted gateway, validated as the whole
config they make, like providers, models and MCP servers.

An agent's URLs (``url``, ``rpc_url``, ``auth.token_url``) must pass the outbound policy as
admin destinations, and its credentials to the agent (``auth.token``, ``auth.value``,
``auth.client_secret``) are sealed with ``TURNOUT_SECRET_KEY`` apart from the rest of its
body, never stored in the clear.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.live.managed import ManagedKind

KIND_NAME = "agent"
SECTION = "agents"
_SECRET_FIELDS = ("token", "value", "client_secret")


def _destinations(body: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in ("url", "rpc_url"):
        if isinstance(body.get(key), str):
            out.append((key, body[key]))
    auth = body.get("auth")
    if isinstance(auth, dict) and isinstance(auth.get("token_url"), str):
        out.append(("auth.token_url", auth["token_url"]))
    return out


def _split(body: dict[str, Any]) -> list[str]:
    """Pops the credentials out of ``auth``: one sealed JSON object of those given."""
    auth = body.get("auth")
    if not isinstance(auth, dict):
        return []
    auth = dict(auth)
    secret = {f: auth[f] for f in _SECRET_FIELDS if auth.get(f)}  # a null one needs no seal
    for f in _SECRET_FIELDS:
        auth.pop(f, None)
    body["auth"] = auth
    return [orjson.dumps(secret).decode()] if secret else []


def _join(body: dict[str, Any], secrets: list[str]) -> None:
    auth = body.get("auth")
    auth = dict(auth) if isinstance(auth, dict) else {}
    for secret in secrets:
        opened = orjson.loads(secret)
        if isinstance(opened, dict):
            auth.update(opened)
    body["auth"] = auth


KIND = ManagedKind(SECTION, destinations=_destinations, split=_split, join=_join)

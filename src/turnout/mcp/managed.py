"""MCP servers as entries the admin API stores (:mod:`turnout.live.managed`, kind
``mcp_server``): kept in the database, loaded by every replica, validated as the whole config
they make, like providers and models.

What an admin write of a server may never be: a stdio server (a command line from an API call
would run on the gateway's host). Its URLs must pass the outbound policy as admin
destinations. Its credentials (``auth`` and ``headers``) are sealed with
``TURNOUT_SECRET_KEY`` apart from the rest of its body, never stored in the clear.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.live.managed import ManagedKind

STDIO_REFUSED = "stdio servers run a command on the gateway's host: config file only"
_SECRET_FIELDS = ("auth", "headers")


def _destinations(body: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(body.get("url"), str):
        out.append(("url", body["url"]))
    urls = body.get("urls")
    for i, url in enumerate(urls if isinstance(urls, list) else ()):
        if isinstance(url, str):
            out.append((f"urls[{i}]", url))
    return out


def _refuse(name: str, body: dict[str, Any]) -> list[str]:
    if body.get("transport") == "stdio" or "command" in body:
        return [f"mcp_servers.{name}: {STDIO_REFUSED}"]
    return []


def _split(body: dict[str, Any]) -> list[str]:
    """Pops the credentials: one sealed JSON object of whichever fields were given."""
    secret = {f: body.pop(f) for f in _SECRET_FIELDS if body.get(f)}
    for f in _SECRET_FIELDS:
        body.pop(f, None)
    return [orjson.dumps(secret).decode()] if secret else []


def _join(body: dict[str, Any], secrets: list[str]) -> None:
    for secret in secrets:
        opened = orjson.loads(secret)
        if isinstance(opened, dict):
            body.update(opened)


KIND = ManagedKind(
    "mcp_servers", destinations=_destinations, split=_split, join=_join, refuse=_refuse
)

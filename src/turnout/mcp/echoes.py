"""Masking the credentials the gateway sends an upstream MCP server, when the server quotes them.

The gateway authenticates to an upstream with a configured token or header, an OAuth access
token it fetched, or a passthrough caller's own credential, and some servers quote what they
were sent: an error that says ``invalid token: <the token>``, a debug tool that echoes its
request's headers. Before (2026-12-08) such an answer reached the caller as it came (the
gateway's token to any key allowed the tool) and the request log's ``error`` kept it. Now every
answer of an upstream (results, JSON-RPC errors, the lists it serves, progress messages) has
each of those credentials replaced by :data:`MASKED`, as model routes mask their provider keys
(``turnout/providers/keymask.py``). Values shorter than :data:`SHORTEST` are left alone: they
would mask ordinary words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout.mcp.config import McpServerConfig

MASKED = "[redacted]"
SHORTEST = 8


def secrets_of(values: Iterable[str | None]) -> tuple[str, ...]:
    """The strings to mask, from credential values (a header's ``Bearer <token>`` yields the
    token as well), longest first so that no part of a longer one is left showing."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        scheme, _, token = value.partition(" ")
        if token and scheme.isalpha():
            found.add(token.strip())
    return tuple(sorted((s for s in found if len(s) >= SHORTEST), key=len, reverse=True))


def masked_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASKED)
    return text


def masked(data: Any, secrets: tuple[str, ...]) -> Any:
    """``data`` (a JSON value) with every secret masked in its strings and keys; ``data``
    itself when none is in it (one serialisation and a search per secret)."""
    if not secrets:
        return data
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    spelt = [json.dumps(s, ensure_ascii=False)[1:-1] for s in secrets]  # as JSON writes it
    if not any(secret in text for secret in spelt):
        return data
    for secret in spelt:
        text = text.replace(secret, MASKED)
    return json.loads(text)


def sent_to(config: McpServerConfig, auth: object) -> tuple[str, ...]:
    """What the gateway authenticates to a server with: its configured token, header value,
    client secret and headers (a passthrough caller's credential is one of a connection's
    headers), and the OAuth access token fetched last (``auth``, turnout.mcp.auth)."""
    cfg = config.auth
    values = [cfg.token, cfg.value, cfg.client_secret] if cfg is not None else []
    values += [*config.headers.values(), getattr(auth, "token", None)]
    return secrets_of(values)

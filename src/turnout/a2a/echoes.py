"""Masking the gateway's credentials to an agent when the agent quotes them back.

The gateway calls an agent with its own credential (``auth``: a bearer token, a header's
value, an OAuth access token fetched with a client secret), and a careless or hostile agent
may quote what it was sent: a debug agent echoing its request's headers, an error that says
``invalid token: <the token>``, a card describing how it was reached. Before (2026-12-07)
such an answer reached the caller as it came: any key allowed to call the agent learned the
gateway's credential to it. Now every byte an agent hands a caller (its card, a JSON answer,
each event of a stream) has each spelling of each credential replaced by :data:`MASKED`, as
the model routes mask their provider keys (``turnout/providers/keymask.py``) and the MCP
gateway its servers' (``turnout/mcp/echoes.py``).

The spellings searched are the value's own bytes and the ways JSON writes it (its escapes
of quotes and control characters, with and without non-ASCII escaped), so an answer is
searched on the wire, without parsing it; an answer holding ``\\u00XX`` escapes of plain
ASCII (``\\u002d`` for ``-``: the same JSON) is searched once more with them undone.
Values shorter than :data:`turnout.mcp.echoes.SHORTEST` are left alone: they would mask ordinary
words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from turnout.mcp.echoes import secrets_of

MASKED = b"[redacted]"


def spellings(values: Iterable[str | None]) -> tuple[bytes, ...]:
    """The byte strings to mask for credential values (the MCP gateway's choice of values:
    a header's ``Bearer <token>`` yields the token too), longest first so that no part of a
    longer one is left showing."""
    out: set[bytes] = set()
    for secret in secrets_of(values):
        out.add(secret.encode())
        out.add(json.dumps(secret)[1:-1].encode())  # JSON's escapes: quotes, controls
        out.add(json.dumps(secret, ensure_ascii=False)[1:-1].encode())
    return tuple(sorted(out, key=len, reverse=True))


def mask(data: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """``data`` with every secret masked; ``data`` itself when none is in it. A secret an
    agent spells with only some characters escaped is found once the escapes of plain ASCII
    are undone (a JSON answer means the same either way)."""
    if not secrets:
        return data
    for secret in secrets:
        if data.find(secret) >= 0:
            data = data.replace(secret, MASKED)
    if b"\\u00" in data:
        plain = _unescaped(data)
        if plain != data:
            for secret in secrets:
                if plain.find(secret) >= 0:
                    return mask(plain, secrets)
    return data


def _unescaped(data: bytes) -> bytes:
    """``data`` with each ``\\u00XX`` escape of a printable ASCII character other than ``"``
    and ``\\`` written as the character (the same JSON; the same bytes elsewhere too). An
    escaped backslash (``\\\\u0041``) is left alone: it spells a backslash, then ``u0041``."""
    return _ESCAPE.sub(_plain, data)


_ESCAPE = re.compile(rb"\\\\|\\u00([2-7][0-9a-fA-F])")


def _plain(match: re.Match[bytes]) -> bytes:
    hexa = match.group(1)
    if hexa is None:
        return match.group(0)  # an escaped backslash
    code = int(hexa, 16)
    return match.group(0) if code in (0x22, 0x5C, 0x7F) else bytes((code,))

"""Gateway key material: generation, hashing, the visible prefix, and how a request presents one.

A key is ``sk-sy-`` and 43 URL-safe characters (256 random bits). Only its SHA-256 is stored:
with that much entropy a slow password hash buys nothing, and SHA-256 keeps the per-request
check to about a microsecond. Lookups go by digest in a dict; where two secrets are compared
(the master key) the comparison is constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import unquote_to_bytes

KEY_PREFIX = "sk-sy-"
VISIBLE = len(KEY_PREFIX) + 6  # characters shown in lists: enough to tell keys apart


def generate() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_id(kind: str = "key") -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def digest(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(raw).digest()


def hex_digest(secret: str | bytes) -> str:
    return digest(secret).hex()


def prefix(secret: str) -> str:
    return secret[:VISIBLE]


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


CREDENTIAL_HEADERS = frozenset((b"authorization", b"x-api-key", b"x-goog-api-key"))


class TwoKeys(ValueError):
    """A request that carries one way of presenting a key twice, with different values."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def repeated(raw: list[tuple[bytes, bytes]]) -> str | None:
    """The credential header ``raw`` (a request's header lines) holds twice with different
    values, or None. The gateway's header dict keeps the last line, a proxy in front may read
    the first: the two would disagree about who is calling. Called only when the dict is
    shorter than the lines (some header repeated), so an ordinary request pays two ``len``."""
    seen: dict[bytes, bytes] = {}
    for name, value in raw:
        if name in CREDENTIAL_HEADERS and seen.setdefault(name, value) != value:
            return name.decode()
    return None


def presented(headers: dict[bytes, bytes], query: bytes) -> bytes | None:
    """The key a request carries, in the order clients send them: ``Authorization: Bearer``
    (OpenAI SDKs, Anthropic ``auth_token``), ``x-api-key`` (Anthropic), ``x-goog-api-key``
    (google-genai), then ``?key=`` (Gemini REST). ``?key=`` given twice with different values
    is :class:`TwoKeys` (a repeated header is found by :func:`repeated`)."""
    value = headers.get(b"authorization")
    if value is not None:
        scheme, _, token = value.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip()
    value = headers.get(b"x-api-key") or headers.get(b"x-goog-api-key")
    if value:
        return value.strip()
    if query and b"key=" in query:
        keys = {unquote_to_bytes(p[4:]) for p in query.split(b"&") if p.startswith(b"key=")}
        if len(keys) > 1:
            raise TwoKeys("?key=")
        return (keys.pop() or None) if keys else None
    return None

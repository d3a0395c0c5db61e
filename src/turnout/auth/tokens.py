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


def presented(headers: dict[bytes, bytes], query: bytes) -> bytes | None:
    """The key a request carries, in the order clients send them: ``Authorization: Bearer``
    (OpenAI SDKs, Anthropic ``auth_token``), ``x-api-key`` (Anthropic), ``x-goog-api-key``
    (google-genai), then ``?key=`` (Gemini REST)."""
    value = headers.get(b"authorization")
    if value is not None:
        scheme, _, token = value.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip()
    value = headers.get(b"x-api-key") or headers.get(b"x-goog-api-key")
    if value:
        return value.strip()
    if query and b"key=" in query:
        for part in query.split(b"&"):
            if part.startswith(b"key="):
                return unquote_to_bytes(part[4:]) or None
    return None

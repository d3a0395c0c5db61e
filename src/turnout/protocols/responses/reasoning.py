"""Reasoning state carried in a Responses client's own wire format.

A Responses client keeps reasoning between turns as ``reasoning`` items, whose
``encrypted_content`` is opaque to it and echoed back unchanged (``store: false`` agent loops
send every output item of the last response as input of the next). That field carries the
state another provider minted: an Anthropic thinking block (its exact text, which Anthropic
verifies against the signature, and the signature), a redacted block, or a Gemini thought
signature. The token is ``tnt1.`` + base64url(zlib(JSON)); anything else in the field is an
OpenAI upstream's own, meaningless to any other provider, and is dropped on the way there.
"""

from __future__ import annotations

import base64
import binascii
import zlib

import orjson

from turnout.ir import ThinkingPart

PREFIX = "tnt1."
_SOURCES = {"a": "anthropic", "g": "gemini"}


def encode(part: ThinkingPart) -> str:
    payload = [(part.source or "anthropic")[0], part.text, part.signature, part.redacted]
    packed = zlib.compress(orjson.dumps(payload), 6)
    return PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def decode(value: object) -> ThinkingPart | None:
    """The part a token of ours carries; None for anything else (never raises)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    token = value[len(PREFIX) :]
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        src, text, signature, redacted = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error, zlib.error):
        return None
    source = _SOURCES.get(src) if isinstance(src, str) else None
    if source is None or not isinstance(text, str):
        return None
    if not (signature is None or isinstance(signature, str)):
        return None
    if not (redacted is None or isinstance(redacted, str)):
        return None
    return ThinkingPart(text, signature, redacted, source)  # type: ignore[arg-type]

"""Carriers that keep provider reasoning state alive inside a client's own wire format.

A reasoning signature is only valid for the provider that minted it, and the client never
sees that provider. So each client protocol gets a carrier its official SDK round-trips and
agent loops echo back unchanged:

* OpenAI client: the assistant ``tool_calls[].id`` -> ``<id>__sig_<token>`` where the token is
  base64url(zlib(json)) of the thinking blocks that preceded that call (text kept for Anthropic,
  which verifies it). The matching ``tool`` message's ``tool_call_id`` carries the same suffix
  and is stripped the same way. Thinking without a following tool call is not carried: neither
  provider requires it on later turns.
* Anthropic client: a ``thinking`` block; a Gemini signature is prefixed with
  :data:`GEMINI_IN_ANTHROPIC` so it is never sent to Anthropic (which would reject it).
* Gemini client: a ``thought: true`` part whose ``thoughtSignature`` is base64 of
  :data:`ENVELOPE_MAGIC` + kind + payload. google-genai decodes signatures to bytes and
  re-encodes them url-safe, so only a base64 envelope survives; it is decoded tolerantly.
"""

from __future__ import annotations

import base64
import binascii
import zlib

import orjson

from turnout.ir import SignatureSource, ThinkingPart

ID_SEPARATOR = "__sig_"
GEMINI_IN_ANTHROPIC = "swy-gemini:"
ENVELOPE_MAGIC = b"SWY\x01"
_ENVELOPE_PREFIX = "U1dZ"  # base64 of the magic's first three bytes
_KIND_SIGNATURE = b"s"
_KIND_REDACTED = b"r"
_SOURCES: dict[str, SignatureSource] = {"a": "anthropic", "g": "gemini"}


def carries_state(part: ThinkingPart) -> bool:
    return part.signature is not None or part.redacted is not None


def _b64url_decode(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


# -- OpenAI: tool call ids ---------------------------------------------------------------------


def encode_tool_call_id(call_id: str, parts: list[ThinkingPart]) -> str:
    if not parts:
        return call_id
    payload = [
        [
            (p.source or "anthropic")[0],
            p.text if p.source != "gemini" else "",
            p.signature,
            p.redacted,
        ]
        for p in parts
    ]
    packed = zlib.compress(orjson.dumps(payload), 6)
    token = base64.urlsafe_b64encode(packed).rstrip(b"=").decode()
    return f"{call_id}{ID_SEPARATOR}{token}"


def decode_tool_call_id(call_id: str) -> tuple[str, list[ThinkingPart]]:
    """Split a carried id; a malformed token is left in place (the id is then just an id)."""
    if ID_SEPARATOR not in call_id:
        return call_id, []
    base, _, token = call_id.partition(ID_SEPARATOR)
    try:
        payload = orjson.loads(zlib.decompress(_b64url_decode(token)))
        parts = [
            ThinkingPart(text=text or "", signature=sig, redacted=red, source=_SOURCES[src])
            for src, text, sig, red in payload
        ]
    except (ValueError, KeyError, TypeError, binascii.Error, zlib.error):
        return call_id, []
    return base, parts


def strip_tool_call_id(call_id: str) -> str:
    return call_id.partition(ID_SEPARATOR)[0] if ID_SEPARATOR in call_id else call_id


# -- Anthropic: thinking block signatures ------------------------------------------------------


def to_anthropic_signature(part: ThinkingPart) -> str:
    if part.source == "gemini" and part.signature:
        return GEMINI_IN_ANTHROPIC + (part.signature or "")
    return part.signature or ""


def from_anthropic_signature(signature: str | None) -> tuple[str | None, SignatureSource | None]:
    if not signature:
        return None, None
    if signature.startswith(GEMINI_IN_ANTHROPIC):
        return signature[len(GEMINI_IN_ANTHROPIC) :], "gemini"
    return signature, "anthropic"


# -- Gemini: thoughtSignature envelopes for foreign state --------------------------------------


def to_gemini_envelope(part: ThinkingPart) -> str:
    if part.redacted is not None:
        body = _KIND_REDACTED + part.redacted.encode()
    else:
        body = _KIND_SIGNATURE + (part.signature or "").encode()
    return base64.b64encode(ENVELOPE_MAGIC + body).decode()


def from_gemini_envelope(signature: str) -> ThinkingPart | None:
    """An Anthropic part unwrapped from its envelope, or None for a native Gemini signature."""
    if not signature.startswith(_ENVELOPE_PREFIX):
        return None
    try:
        raw = base64.b64decode(
            signature.replace("-", "+").replace("_", "/") + "=" * (-len(signature) % 4)
        )
    except (ValueError, binascii.Error):
        return None
    if not raw.startswith(ENVELOPE_MAGIC):
        return None
    kind, value = raw[4:5], raw[5:].decode()
    if kind == _KIND_REDACTED:
        return ThinkingPart(redacted=value, source="anthropic")
    return ThinkingPart(signature=value, source="anthropic")

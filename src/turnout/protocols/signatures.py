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
  The envelope of signed Anthropic thinking carries the thinking text too (compressed):
  Anthropic verifies that text byte for byte, and a Gemini client is free to split, join or
  drop the visible thought parts (a chat session records one ``Content`` per streamed chunk),
  so the text that goes back is the envelope's, never the parts'.
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
_KIND_THINKING = b"t"  # zlib(JSON [text, signature]): signed thinking with its exact text
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
    elif part.text:
        body = _KIND_THINKING + zlib.compress(orjson.dumps([part.text, part.signature or ""]), 6)
    else:
        body = _KIND_SIGNATURE + (part.signature or "").encode()
    return base64.b64encode(ENVELOPE_MAGIC + body).decode()


def from_gemini_envelope(signature: str) -> ThinkingPart | None:
    """An Anthropic part unwrapped from its envelope (with its exact thinking text when the
    envelope carries it), or None for a native Gemini signature."""
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
    kind, payload = raw[4:5], raw[5:]
    if kind == _KIND_THINKING:
        try:
            text, sig = orjson.loads(zlib.decompress(payload))
        except (ValueError, TypeError, zlib.error):
            return None
        if not (isinstance(text, str) and isinstance(sig, str)):
            return None
        return ThinkingPart(text=text, signature=sig, source="anthropic")
    try:
        value = payload.decode()
    except UnicodeDecodeError:
        return None
    if kind == _KIND_REDACTED:
        return ThinkingPart(redacted=value, source="anthropic")
    return ThinkingPart(signature=value, source="anthropic")

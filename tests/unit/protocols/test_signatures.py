"""The carriers of reasoning state in a client's own format (protocols/signatures.py)."""

from __future__ import annotations

import base64

from turnout.ir import ThinkingPart
from turnout.protocols.gemini.parts import PartReader
from turnout.protocols.signatures import from_gemini_envelope, to_gemini_envelope

TEXT = "Let me think\n\nabout é, \u2014 step by step. "


def test_gemini_envelope_carries_the_signed_text() -> None:
    part = ThinkingPart(TEXT, signature="SIG", source="anthropic")
    envelope = to_gemini_envelope(part)
    assert from_gemini_envelope(envelope) == part
    # google-genai re-encodes signatures url-safe without padding: still decoded.
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(envelope)).decode().rstrip("=")
    assert from_gemini_envelope(urlsafe) == part


def test_old_envelopes_still_decode() -> None:
    signature_only = to_gemini_envelope(ThinkingPart(signature="SIG", source="anthropic"))
    assert from_gemini_envelope(signature_only) == ThinkingPart(signature="SIG", source="anthropic")
    redacted = to_gemini_envelope(ThinkingPart(redacted="R", source="anthropic"))
    assert from_gemini_envelope(redacted) == ThinkingPart(redacted="R", source="anthropic")
    assert from_gemini_envelope("bm90IGFuIGVudmVsb3Bl") is None  # a native Gemini signature


def test_the_envelope_text_wins_over_reshaped_thought_parts() -> None:
    envelope = to_gemini_envelope(ThinkingPart(TEXT, signature="SIG", source="anthropic"))
    for parts in (
        [{"text": "Let me", "thought": True}, {"text": "", "thought": True,
                                                "thoughtSignature": envelope}],
        [{"text": "something else entirely", "thought": True, "thoughtSignature": envelope}],
        [{"text": "", "thought": True, "thoughtSignature": envelope}],
    ):  # fmt: skip
        signed = [p for p in PartReader().parts(parts) if isinstance(p, ThinkingPart)][-1]
        assert (signed.text, signed.signature, signed.source) == (TEXT, "SIG", "anthropic")

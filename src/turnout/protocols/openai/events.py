"""Usage in the streams of OpenAI's passed-through operations, read as they are relayed.

Each of them reports its usage once, in its last event, under ``usage`` with the Responses
API's names (``input_tokens``, ``output_tokens``): gpt-image's ``image_generation.completed``
and ``image_edit.completed``, gpt-4o-mini-tts's ``speech.audio.done``, a gpt-4o transcription's
``transcript.text.done``. The stream is never parsed on the way: a byte search per chunk
remembers the last ``"usage"`` object (:class:`~turnout.usage.base.LastUsage`, at most
:data:`~turnout.usage.scan.MAX_OBJECT` bytes of it, however large the images before it), and
it is parsed once after the stream, where a value of the wrong type counts nothing rather than
failing the call (the parsers take numbers only).
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.responses.usage import parse as responses_parse
from turnout.types import Call, Usage
from turnout.usage.base import LastUsage, Passthrough, StreamObserver

KEY = b'"usage"'


def transcript_parse(usage: dict[str, Any] | None) -> Usage | None:
    """gpt-4o-transcribe's token usage; whisper's ``{"type": "duration"}`` counts no tokens."""
    if not usage or usage.get("type") == "duration":
        return None
    return responses_parse(usage)


def image_observer(call: Call, ask: bool) -> StreamObserver:
    return LastUsage(KEY, responses_parse)


def transcript_observer(call: Call, ask: bool) -> StreamObserver:
    return LastUsage(KEY, transcript_parse)


def speech_observer(call: Call, ask: bool) -> StreamObserver:
    """Audio events carry usage; raw audio bytes carry none, and are not searched for it."""
    if call.data.get("stream_format") == "sse":
        return LastUsage(KEY, responses_parse)
    return Passthrough()

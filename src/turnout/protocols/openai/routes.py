"""OpenAI-compatible inbound operations: where their model and stream flag are.

Besides chat and embeddings (which translate), OpenAI's other operations pass through to
OpenAI-compatible upstreams only (descriptor.py's SAME_PROTOCOL): the gateway reads their
model and stream flag, and nothing else; an upload (a transcription or translation of audio,
an image edit or variation) is a multipart form whose text fields are read (protocols/form.py)
and whose bytes go on unchanged.

Their streams are relayed chunk by chunk as they come (:mod:`turnout.protocols.openai.events`
reads their usage): gpt-image's ``stream`` (partial images), a transcription's ``stream``
(text deltas), and speech always, its audio bytes or, with ``stream_format: "sse"``, its audio
events. Read whole (before 2026-12-07), a speech answer over ``max_response_bytes`` was a 502
and every stream reached its client only once the upstream had finished.
"""

from __future__ import annotations

from typing import Any

from turnout.errors import BadRequest
from turnout.protocols import form
from turnout.protocols.descriptor import Route, StreamForm, require_model, stream_flag
from turnout.protocols.openai import events
from turnout.protocols.responses.usage import from_body as responses_usage
from turnout.types import Scope, Usage
from turnout.usage.scan import last_object

# The model OpenAI uses when a request names none, for the operations whose ``model`` is
# optional (its API reference). The gateway routes that name like any other: a config serves
# it (or an alias of it) to choose where unnamed requests go, and a key must be allowed it.
DEFAULT_MODELS = {
    "moderations": "omni-moderation-latest",
    "images": "dall-e-2",
    "image_edits": "dall-e-2",
    "image_variations": "dall-e-2",
}


def _chat(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), stream_flag(data)


def _embeddings(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), False


def _whole(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    """An operation answered in one body (whisper's translations)."""
    return require_model(data), False


def _streamed(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    """Speech: its answer, audio of any length, is relayed as it comes, never held whole."""
    return require_model(data), True


def form_stream(data: dict[str, Any]) -> bool:
    """A form's ``stream`` field (text: the SDK writes ``true`` or ``false``); anything else
    is a 400, as for JSON's :func:`stream_flag`, rather than a guess the upstream may not share."""
    value = data.get("stream")
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest("stream: expected true or false", param="stream")


def _transcription(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), form_stream(data)


def _defaulted(operation: str, streams: Any = None) -> Any:
    """``streams``: how the operation's stream flag is read (None: it has none)."""
    default = DEFAULT_MODELS[operation]

    def locate(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
        stream = streams(data) if streams is not None else False
        if data.get("model") is None:  # absent or null: OpenAI's default
            return default, stream
        return require_model(data), stream

    return locate


def _no_usage(body: bytes) -> Usage | None:
    """Speech answers are audio bytes with no usage in them."""
    return None


def _form(raw: bytes, headers: dict[bytes, bytes]) -> tuple[dict[str, Any], bytes]:
    """A multipart form: its text fields for routing, its bytes forwarded unchanged."""
    return form.fields(raw, headers.get(b"content-type", b"")), raw


def _transcription_usage(body: bytes) -> Usage | None:
    """gpt-4o-transcribe's token usage (the Responses API's names); whisper's
    ``{"type": "duration", "seconds": n}`` counts no tokens, so it is none."""
    return events.transcript_parse(last_object(body, b'"usage"'))


CHAT = Route("chat", _chat)
EMBEDDINGS = Route("embeddings", _embeddings)
COMPLETIONS = Route("completions", _chat)  # the same usage object as chat, in the same places
MODERATIONS = Route("moderations", _defaulted("moderations"))
# gpt-image-1 reports usage as input_tokens/output_tokens, the Responses API's names.
# Their streams end with no ``[DONE]``: an image's ``*.completed``, a transcription's
# ``transcript.text.done``, speech's ``speech.audio.done`` or the audio's last byte.
_IMAGE_EVENTS = StreamForm(events.image_observer)
IMAGES = Route("images", _defaulted("images", stream_flag), responses_usage, stream=_IMAGE_EVENTS)
SPEECH = Route("speech", _streamed, _no_usage, stream=StreamForm(events.speech_observer))
TRANSCRIPTIONS = Route(
    "transcriptions",
    _transcription,
    _transcription_usage,
    _form,
    StreamForm(events.transcript_observer),
)
TRANSLATIONS = Route("translations", _whole, _transcription_usage, _form)  # whisper: no usage
IMAGE_EDITS = Route(
    "image_edits", _defaulted("image_edits", form_stream), responses_usage, _form, _IMAGE_EVENTS
)
IMAGE_VARIATIONS = Route("image_variations", _defaulted("image_variations"), responses_usage, _form)

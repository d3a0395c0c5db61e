"""OpenAI-compatible inbound operations: where their model and stream flag are.

Besides chat and embeddings (which translate), OpenAI's other operations pass through to
OpenAI-compatible upstreams only (descriptor.py's SAME_PROTOCOL): the gateway reads their
model, and for completions the stream flag, and nothing else; an upload (a transcription or
translation of audio, an image edit or variation) is a multipart form whose text fields are read
(protocols/form.py) and whose bytes go on unchanged.
"""

from __future__ import annotations

from typing import Any

from turnout.protocols import form
from turnout.protocols.descriptor import Route, require_model, stream_flag
from turnout.protocols.responses.usage import from_body as responses_usage
from turnout.protocols.responses.usage import parse as responses_parse
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
    """An operation answered in one body (speech: binary audio)."""
    return require_model(data), False


def _defaulted(operation: str) -> Any:
    default = DEFAULT_MODELS[operation]

    def locate(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
        if data.get("model") is None:  # absent or null: OpenAI's default
            return default, False
        return require_model(data), False

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
    usage = last_object(body, b'"usage"')
    if not usage or usage.get("type") == "duration":
        return None
    return responses_parse(usage)


CHAT = Route("chat", _chat)
EMBEDDINGS = Route("embeddings", _embeddings)
COMPLETIONS = Route("completions", _chat)  # the same usage object as chat, in the same places
MODERATIONS = Route("moderations", _defaulted("moderations"))
# gpt-image-1 reports usage as input_tokens/output_tokens, the Responses API's names.
IMAGES = Route("images", _defaulted("images"), responses_usage)
SPEECH = Route("speech", _whole, _no_usage)
TRANSCRIPTIONS = Route("transcriptions", _whole, _transcription_usage, _form)
TRANSLATIONS = Route("translations", _whole, _transcription_usage, _form)  # whisper: no usage
IMAGE_EDITS = Route("image_edits", _defaulted("image_edits"), responses_usage, _form)
IMAGE_VARIATIONS = Route("image_variations", _defaulted("image_variations"), responses_usage, _form)

"""Content parts shared by requests, responses and history.

One part type per *meaning*, not per wire shape: an OpenAI ``image_url`` with a data URL, an
Anthropic ``image`` block with a base64 source and a Gemini ``inlineData`` part all become one
:class:`ImagePart`.  Fields that only one protocol understands ride along in ``extras`` and are
re-emitted only when the target is the protocol the part came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

JSON: TypeAlias = dict[str, Any]
"""A decoded JSON object. Kept loose on purpose: we forward, we do not validate."""

SignatureSource: TypeAlias = Literal["anthropic", "gemini"]
"""Which provider minted a reasoning signature; a signature is only valid where it was minted."""


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: JSON | None = None
    extras: JSON | None = None


@dataclass(slots=True)
class ImagePart:
    """An inline image (``data`` is base64, never decoded) or a reference by URL."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    detail: str | None = None
    cache_control: JSON | None = None
    extras: JSON | None = None


@dataclass(slots=True)
class FilePart:
    """Non-image media (PDF, audio, ...): translated only where the target takes that type."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    name: str | None = None
    cache_control: JSON | None = None
    extras: JSON | None = None


@dataclass(slots=True)
class ToolCallPart:
    """A model's request to run a tool.

    ``arguments`` is the parsed object every target can emit; ``raw_arguments`` keeps the exact
    string an OpenAI upstream produced so an OpenAI target can forward it byte for byte.
    """

    id: str
    name: str
    arguments: JSON = field(default_factory=dict)
    raw_arguments: str | None = None
    extras: JSON | None = None


@dataclass(slots=True)
class ToolResultPart:
    """The client's answer to a tool call. ``content`` holds text and media parts."""

    id: str
    name: str | None = None
    content: list[TextPart | ImagePart | FilePart] = field(default_factory=list)
    is_error: bool = False
    cache_control: JSON | None = None
    extras: JSON | None = None

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class ThinkingPart:
    """Reasoning state that must survive the round trip through a client.

    ``signature`` (or ``redacted`` data) is opaque and only valid for ``source``; ``text`` is the
    visible reasoning (Anthropic verifies it against the signature, so it is kept verbatim).
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    source: SignatureSource | None = None


@dataclass(slots=True)
class RawPart:
    """A part with no common meaning (server tool blocks, executable code...).

    Re-emitted verbatim for ``protocol``; any other target raises a TranslationError.
    """

    protocol: str
    data: JSON


Part: TypeAlias = (
    TextPart | ImagePart | FilePart | ToolCallPart | ToolResultPart | ThinkingPart | RawPart
)
MediaPart: TypeAlias = TextPart | ImagePart | FilePart


# The fields of each part that carry an upstream's value and must be strings in every client's
# protocol: True for a field that must hold one, False for one that may also be null. Codecs
# read an answer's parts as they come; a part of the wrong type is refused here, once, for
# every protocol (:func:`turnout.ir.response.settle`), as stream events are (ir.stream).
_STRINGS: dict[type, tuple[tuple[str, bool], ...]] = {
    TextPart: (("text", True),),
    ImagePart: (("media_type", False), ("data", False), ("url", False), ("detail", False)),
    FilePart: (("media_type", False), ("data", False), ("url", False), ("name", False)),
    ToolCallPart: (("id", True), ("name", True), ("raw_arguments", False)),
    ToolResultPart: (("id", True), ("name", False)),
    ThinkingPart: (("text", True), ("signature", False), ("redacted", False)),
}
_OBJECTS: dict[type, str] = {ToolCallPart: "arguments", RawPart: "data"}


def misfit(part: Part) -> str | None:
    """The first field of ``part`` whose value has the wrong JSON type (``ToolCallPart.name``,
    ``ToolResultPart.content[0].text``), or None."""
    kind = type(part)
    for name, required in _STRINGS.get(kind, ()):
        value = getattr(part, name)
        if not isinstance(value, str) and (required or value is not None):
            return f"{kind.__name__}.{name}"
    held = _OBJECTS.get(kind)
    if held is not None and not isinstance(getattr(part, held), dict):
        return f"{kind.__name__}.{held}"
    if isinstance(part, ToolResultPart):
        for i, inner in enumerate(part.content):
            if (field := misfit(cast(Part, inner))) is not None:
                return f"ToolResultPart.content[{i}].{field}"
    return None

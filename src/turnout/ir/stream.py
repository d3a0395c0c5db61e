"""Incremental stream events: the smallest vocabulary all three SSE dialects can be mapped to.

Text and thinking blocks are implicit: a delta of another kind (or a tool call) closes the
current block; :class:`BlockStop` closes it explicitly. Tool calls are explicit and indexed by
their order in the response (0, 1, ...), never by a protocol's block index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from turnout.ir.content import SignatureSource
from turnout.ir.response import FinishReason, Usage


@dataclass(slots=True)
class StreamStart:
    id: str | None = None
    model: str | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str


@dataclass(slots=True)
class ThinkingSignature:
    """Ends the current thinking block (opening an empty one if none is open)."""

    signature: str
    source: SignatureSource


@dataclass(slots=True)
class RedactedThinking:
    data: str


@dataclass(slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolArgsDelta:
    index: int
    partial_json: str


@dataclass(slots=True)
class ToolCallEnd:
    index: int


@dataclass(slots=True)
class BlockStop:
    pass


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    raw: str | None = None
    stop_sequence: str | None = None


@dataclass(slots=True)
class UsageUpdate:
    """A cumulative snapshot: a later one replaces an earlier one."""

    usage: Usage


@dataclass(slots=True)
class StreamError:
    status: int
    kind: str
    message: str


StreamEvent: TypeAlias = (
    StreamStart
    | TextDelta
    | ThinkingDelta
    | ThinkingSignature
    | RedactedThinking
    | ToolCallStart
    | ToolArgsDelta
    | ToolCallEnd
    | BlockStop
    | Finish
    | UsageUpdate
    | StreamError
)

# The fields of each event that carry an upstream's value and must be strings (or None) in every
# client's protocol. Decoders pass values on as they read them; a whole body's wrong types are
# refused by its response shape, an event's here (translate._encode): before, an upstream's
# ``"content": 5`` reached an Anthropic client as ``"text": 5`` and an argument object as
# ``"partial_json": {…}``, frames no SDK's types admit.
_STRINGS: dict[type, tuple[str, ...]] = {
    TextDelta: ("text",),
    ThinkingDelta: ("text",),
    ThinkingSignature: ("signature",),
    RedactedThinking: ("data",),
    ToolCallStart: ("id", "name"),
    ToolArgsDelta: ("partial_json",),
    Finish: ("stop_sequence",),
}


def settle_start(event: StreamStart) -> None:
    """A stream's id and model are the upstream's metadata: one that is not a string is
    dropped for the gateway's own, as :func:`turnout.ir.response.settle` does for a whole
    answer (before, ``"id": [1]`` reached a client as its chunks' id or ``responseId``)."""
    if event.id is not None and not isinstance(event.id, str):
        event.id = None
    if event.model is not None and not isinstance(event.model, str):
        event.model = None


def not_a_string(event: StreamEvent) -> str | None:
    """The first field of ``event`` that should be a string and holds something else
    (``TextDelta.text``), or None: one dict lookup and an ``isinstance`` per field."""
    names = _STRINGS.get(type(event))
    if names is not None:
        for name in names:
            value = getattr(event, name)
            if value is not None and not isinstance(value, str):
                return f"{type(event).__name__}.{name}"
    return None

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

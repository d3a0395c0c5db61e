"""The internal non-stream response, plus the finish-reason and usage types streams share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from turnout.copies import copier
from turnout.ir.content import JSON, Part


class FinishReason(StrEnum):
    """Why generation stopped, normalised; the wire value is kept next to it as ``raw``."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    OTHER = "other"


@dataclass(slots=True)
class Usage:
    """Token counts normalised so every protocol can be derived from them.

    ``input_tokens`` *includes* cached reads and cache writes (Anthropic reports them apart);
    ``output_tokens`` *includes* reasoning tokens (Gemini reports them apart).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int | None = None

    def total(self) -> int:
        if self.total_tokens is not None:
            return self.total_tokens
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class IRResponse:
    id: str | None = None
    model: str | None = None
    content: list[Part] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    created: int | None = None
    extras: JSON = field(default_factory=dict)
    source: str | None = None


# A copy of a usage record (turnout.copies): streams merge cumulative updates into copies.
copy_usage: Callable[..., Usage] = copier(Usage)

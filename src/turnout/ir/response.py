"""The internal non-stream response, plus the finish-reason and usage types streams share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from turnout.copies import copier
from turnout.ir.content import JSON, Part, ToolCallPart, misfit


class FinishReason(StrEnum):
    """Why generation stopped, normalised; the wire value is kept next to it as ``raw``."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    OTHER = "other"


# The largest token count believed: a hundred million, ten times the largest context window
# of any model. Readers add up to three counts into one (Anthropic's input and its two cache
# counts), and the sum must fit the request log's 32-bit token columns (PostgreSQL's INTEGER):
# 2**53 (what every JSON parser reads exactly) did not, and a row past them stopped the writer.
MAX_TOKENS = 100_000_000
# The largest creation time believed, in seconds (what every JSON parser reads exactly).
MAX_SECONDS = 1 << 53


def count(value: object) -> int:
    """A token count as an upstream sent it: a non-negative integer (an integral float too)
    up to :data:`MAX_TOKENS`, else 0. Usage comes from the upstream's bytes: a string, a
    list, a negative or a huge number there must not reach prices, limits, rows, rollups or
    another protocol's answer."""
    if type(value) is int:
        return value if 0 <= value <= MAX_TOKENS else 0
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_TOKENS:
        return int(value)
    return 0


def maybe_count(value: object) -> int | None:
    """:func:`count` for a field that may be absent (``None`` stays ``None``)."""
    return None if value is None else count(value)


def section(value: object) -> dict[str, object]:
    """A nested usage object (``prompt_tokens_details`` and the like), or an empty one."""
    return value if isinstance(value, dict) else {}


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


def timestamp(value: object) -> int | None:
    """A creation time as an upstream sent it: a non-negative integer (an integral float too)
    of at most 2**53, else None (the gateway's own clock stands in)."""
    if type(value) is int and 0 <= value <= MAX_SECONDS:
        return value
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_SECONDS:
        return int(value)
    return None


def settle(resp: IRResponse) -> IRResponse:
    """An upstream's answer made fit for any client, or a ValueError naming the field that
    cannot be (translation turns it into the upstream's failure, a 502).

    The envelope is the upstream's metadata: an id or model name that is not a string, or a
    creation time that is not a plain count of seconds, is dropped for the gateway's own (as a
    usage count of the wrong type counts 0). The content is the answer: a part whose text, id
    or name is not a string, or whose arguments are not an object, fails it. Before, either
    went through to the client as it came (``"id": {…}`` in a ChatCompletion, ``"responseId":
    [ … ]`` in a Gemini answer), bodies no SDK's types admit.
    """
    if resp.id is not None and not isinstance(resp.id, str):
        resp.id = None
    if resp.model is not None and not isinstance(resp.model, str):
        resp.model = None
    if resp.created is not None:
        resp.created = timestamp(resp.created)
    if resp.stop_sequence is not None and not isinstance(resp.stop_sequence, str):
        raise ValueError("the stop sequence is not a string")
    calls: set[str] = set()
    for i, part in enumerate(resp.content):
        if (field := misfit(part)) is not None:
            raise ValueError(f"content[{i}]: {field} has the wrong type")
        if type(part) is ToolCallPart and part.id:  # a tool's result is paired by its call's id
            if part.id in calls:
                raise ValueError(f"content[{i}]: a tool call id given twice")
            calls.add(part.id)
    return resp


# A copy of a usage record (turnout.copies): streams merge cumulative updates into copies.
copy_usage: Callable[..., Usage] = copier(Usage)

"""The internal request every cross-protocol call passes through.

Only meanings shared by at least two protocols get a typed field; everything else lands in
``extras`` (top-level fields of the ``source`` protocol) so a translation back into the same
protocol family loses nothing, while other targets decide field by field whether dropping is
harmless or must fail loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from turnout.ir.content import JSON, Part, TextPart

Role: TypeAlias = Literal["user", "assistant", "tool"]
ToolChoiceMode: TypeAlias = Literal["auto", "none", "required", "tool"]
ResponseFormatType: TypeAlias = Literal["text", "json_object", "json_schema"]


@dataclass(slots=True)
class Message:
    """One turn. ``tool`` messages carry only ToolResultParts (OpenAI's tool role)."""

    role: Role
    content: list[Part] = field(default_factory=list)
    extras: JSON | None = None


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: JSON | None = None
    strict: bool | None = None
    cache_control: JSON | None = None
    extras: JSON | None = None


@dataclass(slots=True)
class ToolChoice:
    """``tool`` forces ``name``; ``allowed`` restricts a ``required`` choice (Gemini ANY list)."""

    mode: ToolChoiceMode
    name: str | None = None
    allowed: list[str] | None = None


@dataclass(slots=True)
class ResponseFormat:
    type: ResponseFormatType
    schema: JSON | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(slots=True)
class Reasoning:
    """Reasoning knobs: budgets (Anthropic, Gemini) and efforts (OpenAI) map through tables."""

    enabled: bool | None = None
    budget_tokens: int | None = None
    effort: str | None = None
    include_thoughts: bool | None = None


@dataclass(slots=True)
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = None


@dataclass(slots=True)
class IRRequest:
    model: str
    source: str
    """Protocol the request came from: decides whether ``extras`` may be re-emitted."""
    messages: list[Message] = field(default_factory=list)
    system: list[TextPart] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    sampling: Sampling = field(default_factory=Sampling)
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    metadata: JSON | None = None
    extras: JSON = field(default_factory=dict)

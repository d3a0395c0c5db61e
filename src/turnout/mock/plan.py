"""What the mock will answer, decided once and rendered by each protocol module.

Each protocol module reads its request into :class:`Facts` (the few things that steer the
answer), :func:`make_plan` turns those into a protocol-neutral :class:`Plan`, and the same
module renders the plan as a body or as stream frames. Keeping the decision in one place is
what makes the three dialects agree on text, tool calls and token counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.mock.content import (
    THINKING_PIECES,
    estimate_tokens,
    make_signature,
    schema_example,
    text_pieces,
)


class RequestError(ValueError):
    """The request is invalid in a way the real provider rejects with a 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    schema: Any


@dataclass(slots=True)
class Facts:
    """The request properties that decide the answer, whatever the dialect."""

    model: str
    stream: bool = False
    include_usage: bool = False
    tools: list[ToolSpec] = field(default_factory=list)
    forced_tool: str | None = None
    tools_forbidden: bool = False
    tool_result: str | None = None
    max_tokens: int | None = None
    thinking: bool = False
    prompt_chars: int = 0
    images: int = 0
    signatures: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: Any
    arguments_json: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A complete answer: visible text pieces, or one tool call, plus optional reasoning."""

    model: str
    uid: str
    prompt_tokens: int
    pieces: tuple[str, ...]
    truncated: bool
    tool_call: ToolCall | None
    thinking: tuple[str, ...]
    signature: str | None
    reasoning_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        """Visible output (text or tool call), excluding reasoning."""
        if self.tool_call is not None:
            call = self.tool_call
            return estimate_tokens(len(call.name) + len(call.arguments_json))
        return len(self.pieces)

    @property
    def completion_tokens(self) -> int:
        """All generated tokens, reasoning included, as every provider bills them."""
        return self.output_tokens + self.reasoning_tokens


def result_text(content: Any) -> str:
    """Flatten a tool result (string, list of text blocks, or JSON object) into text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(b.get("text", "")) if isinstance(b, dict) else str(b)
            for b in content
            if not isinstance(b, dict) or "text" in b
        ]
        return " ".join(p for p in parts if p)
    if content is None:
        return ""
    return orjson.dumps(content).decode()


def _pick_tool(facts: Facts) -> ToolSpec | None:
    if not facts.tools or facts.tools_forbidden or facts.tool_result is not None:
        return None
    if facts.forced_tool is None:
        return facts.tools[0]
    for tool in facts.tools:
        if tool.name == facts.forced_tool:
            return tool
    raise RequestError(f"tool_choice names tool {facts.forced_tool!r}, which is not in tools")


def make_plan(facts: Facts, tokens: int, uid: str) -> Plan:
    """Decide the answer; ``tokens`` is the completion length knob (before max_tokens)."""
    prompt_tokens = estimate_tokens(facts.prompt_chars)
    thinking = THINKING_PIECES if facts.thinking else ()
    signature = make_signature(facts.model, uid) if facts.thinking else None
    tool = _pick_tool(facts)
    if tool is not None:
        args = schema_example(tool.schema)
        if not isinstance(args, dict):
            args = {}
        call = ToolCall(tool.name, args, orjson.dumps(args).decode())
        return Plan(
            facts.model, uid, prompt_tokens, (), False, call, thinking, signature, len(thinking)
        )
    count = tokens
    truncated = False
    if facts.max_tokens is not None and facts.max_tokens < count:
        count, truncated = facts.max_tokens, True
    pieces = text_pieces(count)
    if facts.tool_result is not None and pieces:
        # The first piece carries the tool output so a test can see it made the round trip.
        pieces[0] = f"Tool result: {facts.tool_result}."
    return Plan(
        facts.model,
        uid,
        prompt_tokens,
        tuple(pieces),
        truncated,
        None,
        thinking,
        signature,
        len(thinking),
    )


def split_fragments(text: str, parts: int = 2) -> list[str]:
    """Cut a JSON argument string in ``parts`` non-empty pieces (fewer if it is too short)."""
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    out, pos = [], 0
    for i in range(parts):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out or [""]

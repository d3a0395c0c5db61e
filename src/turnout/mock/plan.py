"""What the mock will answer, decided once and rendered by each protocol module.

Each protocol module reads its request into :class:`Facts` (the few things that steer the
answer), :func:`make_plan` turns those into a protocol-neutral :class:`Plan`, and the same
module renders the plan as a body or as stream frames. Keeping the decision in one place is
what makes the three dialects agree on text, tool calls and token counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

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
    tool_required: bool = False
    tools_forbidden: bool = False
    prompt: str = ""
    """The text of the latest user turn: where a prompt names a tool or quotes an argument."""
    json_output: bool = False
    output_schema: Any = None
    """Structured output: the answer is JSON, valid against this schema when there is one."""
    tool_result: str | None = None
    max_tokens: int | None = None
    thinking: bool = False
    prompt_chars: int = 0
    images: int = 0
    signatures: int = 0
    encrypted_reasoning: bool = False  # Responses: reasoning state asked for in `include`
    metadata: dict[str, str] = field(default_factory=dict)  # Responses: echoed last, as OpenAI does


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


_REMINDER: Final = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)


def user_words(text: str) -> str:
    """The user's own words: without the ``<system-reminder>`` blocks an agent client (Claude
    Code) adds to the turn, which mention its tools by name."""
    return _REMINDER.sub("", text) if "<system-reminder>" in text else text


def text_of(content: Any, text_types: tuple[str, ...] = ("text", "input_text")) -> str:
    """The user's words in a message's content: a string, or its text parts joined."""
    if isinstance(content, str):
        return user_words(content)
    parts = content if isinstance(content, list) else []
    return user_words(
        "\n".join(
            p["text"]
            for p in parts
            if isinstance(p, dict)
            and isinstance(p.get("text"), str)
            and p.get("type", "text") in text_types
        )
    )


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


_CODE_SPAN: Final = re.compile(r"`([^`\n]+)`")
_MENTION: Final = (
    r"(?i:\b(?:use|using|call|calling|invoke|with|via|the|tool)\s+)`?(?-i:{name})(?![\w-])"
    r"|(?<![\w-])(?-i:{name})(?:\s+(?i:tool)\b|\()"
    r"|`(?-i:{name})`"
)
_JSON_PIECE_CHARS: Final = 4


def named_tool(tools: list[ToolSpec], prompt: str) -> ToolSpec | None:
    """The offered tool the prompt asks for first. A name counts as asked for when it is used
    as a tool's name, not as a word: after "use", "call", "with", "via", "the" or "tool"
    (``use Bash``, ``call get_weather``, ``the Bash tool``), before "tool" or "(", or in
    backticks. "Read me a poem" does not ask for the Read tool; "use Read" does. The
    longer name wins a tie."""
    best: tuple[int, int, ToolSpec] | None = None
    for tool in tools:
        if not tool.name or tool.name not in prompt:
            continue
        m = re.search(_MENTION.format(name=re.escape(tool.name)), prompt)
        if m is not None and (best is None or (m.start(), -len(tool.name)) < best[:2]):
            best = (m.start(), -len(tool.name), tool)
    return best[2] if best is not None else None


def _pick_tool(facts: Facts, mode: str) -> ToolSpec | None:
    if not facts.tools or facts.tools_forbidden or facts.tool_result is not None:
        return None
    if facts.forced_tool is not None:
        for tool in facts.tools:
            if tool.name == facts.forced_tool:
                return tool
        raise RequestError(f"tool_choice names tool {facts.forced_tool!r}, which is not in tools")
    named = named_tool(facts.tools, facts.prompt)
    if facts.tool_required:
        return named or facts.tools[0]
    if mode == "first":
        return facts.tools[0]
    return named


def tool_arguments(schema: Any, prompt: str) -> dict[str, Any]:
    """Arguments that fit the tool's schema; a value quoted in backticks in the prompt fills
    the first required string argument (``run `echo hi` with the Bash tool``)."""
    args = schema_example(schema)
    if not isinstance(args, dict):
        return {}
    quoted = _CODE_SPAN.search(prompt)
    if quoted is None or not isinstance(schema, dict):
        return args
    props = schema.get("properties")
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        spec = props.get(name) if isinstance(props, dict) else None
        if not isinstance(spec, dict) or "enum" in spec or "const" in spec:
            continue
        kind = spec.get("type")
        if isinstance(kind, str) and kind.lower() == "string":
            args[name] = quoted.group(1)
            break
    return args


def _json_pieces(facts: Facts, tokens: int) -> list[str]:
    """A JSON answer cut into small pieces (one per stream chunk, about a token each)."""
    if facts.output_schema is not None:
        value = schema_example(facts.output_schema)
    else:
        value = {"answer": "".join(text_pieces(tokens))}
    text = orjson.dumps(value).decode()
    step = _JSON_PIECE_CHARS
    return [text[i : i + step] for i in range(0, len(text), step)] or [text]


def make_plan(facts: Facts, tokens: int, uid: str, tools: str = "named") -> Plan:
    """Decide the answer; ``tokens`` is the completion length knob (before max_tokens) and
    ``tools`` the tool mode (:class:`~turnout.mock.settings.MockSettings`)."""
    prompt_tokens = estimate_tokens(facts.prompt_chars)
    thinking = THINKING_PIECES if facts.thinking else ()
    signature = make_signature(facts.model, uid) if facts.thinking else None
    tool = _pick_tool(facts, tools)
    if tool is not None:
        args = tool_arguments(tool.schema, facts.prompt)
        call = ToolCall(tool.name, args, orjson.dumps(args).decode())
        return Plan(
            facts.model, uid, prompt_tokens, (), False, call, thinking, signature, len(thinking)
        )
    if facts.json_output:
        pieces = _json_pieces(facts, tokens)
    else:
        pieces = text_pieces(tokens)
        if facts.tool_result is not None and pieces:
            # The first piece carries the tool output so a test can see it made the round trip.
            pieces[0] = f"Tool result: {facts.tool_result}."
    truncated = facts.max_tokens is not None and facts.max_tokens < len(pieces)
    if truncated:
        pieces = pieces[: facts.max_tokens]
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

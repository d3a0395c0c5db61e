"""Where the words are in a request or an answer, whatever its protocol.

Guardrails read and rewrite the text people and models wrote, not identifiers, roles, media or
settings. Every protocol the gateway speaks keeps that text in string values under a few keys
(OpenAI ``content``, Anthropic ``text`` and ``system``, Gemini ``parts[].text``, Responses
``input``/``instructions``/``delta``, embeddings ``input``), so one walk over the parsed JSON
finds it in all of them without each protocol's codec, and keeps working for fields added
later. Strings under other keys (``model``, ``role``, ``id``, ``data`` of an image, tool
schemas) are never touched. The walk is iterative and bounded by the body the server already
bounded.

Tool calls and their results are text too: the model reads them, and they are where indirect
prompt injection arrives. Their strings sit under ``arguments`` (OpenAI, Responses), ``output``
(a Responses tool result), or anywhere inside an object given as a call's arguments or a
result (Anthropic ``tool_use.input``, Gemini ``functionCall.args`` and
``functionResponse.response``): every string of such an object is text, at any depth
(:data:`PAYLOADS`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

TEXT_KEYS = frozenset(
    {
        "content",
        "text",
        "input",
        "instructions",
        "system",
        "prompt",
        "delta",
        "output_text",
        "arguments",
        "output",
        "args",
    }
)
# An object directly under one of these keys is a tool call's arguments or a tool's result:
# every string in it is what the model reads. ``response`` only inside a function response
# (elsewhere it is a Responses event's whole response object, ids and all).
PAYLOADS = frozenset({"input", "args", "arguments", "output"})
_RESULTS = frozenset({"functionResponse", "function_response"})
# Keys whose subtree is never prose for a guardrail: tool definitions and structured output
# schemas are the application's, not the user's, and rewriting them breaks the call.
SKIP_KEYS = frozenset(
    {
        "tools",
        "functions",
        "tool_choice",
        "response_format",
        "generationConfig",
        "generation_config",
        "metadata",
        "inlineData",
        "inline_data",
        "image_url",
        "source",
        "signature",
        "thinking",
        "thoughtSignature",
    }
)


# How a value is reached: under another key, under a text key (its strings are text, its
# objects are looked into key by key), or inside a tool payload (every string is text).
PLAIN, TEXTUAL, PAYLOAD = 0, 1, 2


def _kind(key: Any, value: Any, parent: Any, within: int) -> int:
    if within == PAYLOAD:
        return PAYLOAD
    if isinstance(value, dict) and (key in PAYLOADS or (key == "response" and parent in _RESULTS)):
        return PAYLOAD
    return TEXTUAL if key in TEXT_KEYS else PLAIN


def _children(cur: dict[Any, Any], parent: Any, within: int) -> list[tuple[Any, Any, int]]:
    """(key, value, how it is reached) of a dict's values a guardrail may read. A payload's
    keys are the application's own (``source``, ``metadata``): none is skipped there."""
    if within == PAYLOAD:
        return [(k, v, PAYLOAD) for k, v in cur.items()]
    return [(k, v, _kind(k, v, parent, within)) for k, v in cur.items() if k not in SKIP_KEYS]


def texts(obj: Any) -> Iterator[str]:
    """Every text string in ``obj``, in document order."""
    stack: list[tuple[Any, Any, int]] = [(obj, None, PLAIN)]
    while stack:
        cur, key, how = stack.pop()
        if isinstance(cur, str):
            if how:
                yield cur
        elif isinstance(cur, dict):
            stack.extend((v, k, kind) for k, v, kind in reversed(_children(cur, key, how)))
        elif isinstance(cur, list):
            stack.extend((item, key, how) for item in reversed(cur))


def joined(obj: Any, limit: int = 1 << 20) -> str:
    """The texts of ``obj`` joined by newlines, at most ``limit`` characters, as a model reads
    them (:func:`plain`): a judge's question, a heuristic's input."""
    out: list[str] = []
    size = 0
    for text in texts(obj):
        out.append(text)
        size += len(text) + 1
        if size >= limit:
            break
    return plain("\n".join(out)[:limit])


# Characters a model reads past but a pattern does not: zero-width and other invisible format
# characters, removed (``ig\u200bnore``), and Unicode tag characters, which spell ASCII no
# screen shows ("ASCII smuggling"): their text is decoded and put on a line of its own.
_INVISIBLE: dict[int, None] = dict.fromkeys(
    [
        0x00AD,  # soft hyphen
        0x034F,  # combining grapheme joiner
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),  # zero-width space, joiners, direction marks
        *range(0x202A, 0x202F),  # embeddings and overrides
        *range(0x2060, 0x2070),  # word joiner, invisible operators, isolates
        0xFEFF,
        *range(0xE0000, 0xE0080),  # tags (decoded apart, below)
    ]
)
_TAGS = (0xE0020, 0xE007F)  # the tag characters that stand for printable ASCII


def plain(text: str) -> str:
    """``text`` as a model reads it, for patterns to match: compatibility forms folded
    (NFKC: full-width letters, ligatures), invisible characters removed, smuggled tag text
    decoded. Only for matching: what is forwarded is never this."""
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text)
    hidden = "".join(chr(ord(c) - 0xE0000) for c in folded if _TAGS[0] <= ord(c) < _TAGS[1])
    visible = folded.translate(_INVISIBLE)
    return f"{visible}\n{hidden}" if hidden else visible


def rewrite(obj: Any, fn: Callable[[str], str]) -> tuple[Any, bool]:
    """A copy of ``obj`` with every text string replaced by ``fn(text)``, and whether any
    changed; ``obj`` itself is left as it was (the unchanged request may still be needed).
    Iterative: a hostile body nested a thousand levels deep must not exhaust the stack."""
    changed = False
    holder: dict[Any, Any] = {"": obj}
    # (container, its key or index, the dict key the value sits under, how it is reached)
    stack: list[tuple[Any, Any, Any, int]] = [(holder, "", None, PLAIN)]
    while stack:
        parent, slot, key, how = stack.pop()
        cur = parent[slot]
        if isinstance(cur, str):
            if how and (new := fn(cur)) != cur:
                parent[slot] = new
                changed = True
        elif isinstance(cur, dict):
            copy = parent[slot] = dict(cur)
            stack.extend((copy, k, k, kind) for k, _, kind in reversed(_children(copy, key, how)))
        elif isinstance(cur, list):
            items = parent[slot] = list(cur)
            stack.extend((items, i, key, how) for i in range(len(items) - 1, -1, -1))
    return holder[""], changed

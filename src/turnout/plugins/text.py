"""Where the words are in a request or an answer, whatever its protocol.

Guardrails read and rewrite the text people and models wrote, not identifiers, roles, media or
settings. Every protocol the gateway speaks keeps that text in string values under a few keys
(OpenAI ``content``, Anthropic ``text`` and ``system``, Gemini ``parts[].text``, Responses
``input``/``instructions``/``delta``, embeddings ``input``), so one walk over the parsed JSON
finds it in all of them without each protocol's codec, and keeps working for fields added
later. Strings under other keys (``model``, ``role``, ``id``, ``data`` of an image, tool
schemas) are never touched. The walk is iterative and bounded by the body the server already
bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

TEXT_KEYS = frozenset(
    {"content", "text", "input", "instructions", "system", "prompt", "delta", "output_text"}
)
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


def texts(obj: Any) -> Iterator[str]:
    """Every text string in ``obj``, in document order."""
    stack: list[tuple[Any, bool]] = [(obj, False)]
    while stack:
        cur, textual = stack.pop()
        if isinstance(cur, str):
            if textual:
                yield cur
        elif isinstance(cur, dict):
            items = [(v, k in TEXT_KEYS) for k, v in cur.items() if k not in SKIP_KEYS]
            stack.extend(reversed(items))
        elif isinstance(cur, list):
            stack.extend((item, textual) for item in reversed(cur))


def joined(obj: Any, limit: int = 1 << 20) -> str:
    """The texts of ``obj`` joined by newlines, at most ``limit`` characters (a judge's
    question, a heuristic's input)."""
    out: list[str] = []
    size = 0
    for text in texts(obj):
        out.append(text)
        size += len(text) + 1
        if size >= limit:
            break
    return "\n".join(out)[:limit]


def rewrite(obj: Any, fn: Callable[[str], str]) -> tuple[Any, bool]:
    """A copy of ``obj`` with every text string replaced by ``fn(text)``, and whether any
    changed; ``obj`` itself is left as it was (the unchanged request may still be needed).
    Iterative: a hostile body nested a thousand levels deep must not exhaust the stack."""
    changed = False
    holder: dict[Any, Any] = {"": obj}
    stack: list[tuple[Any, Any, bool]] = [(holder, "", False)]
    while stack:
        parent, key, textual = stack.pop()
        cur = parent[key]
        if isinstance(cur, str):
            if textual and (new := fn(cur)) != cur:
                parent[key] = new
                changed = True
        elif isinstance(cur, dict):
            copy = parent[key] = dict(cur)
            stack.extend((copy, k, k in TEXT_KEYS) for k in reversed(copy) if k not in SKIP_KEYS)
        elif isinstance(cur, list):
            items = parent[key] = list(cur)
            stack.extend((items, i, textual) for i in range(len(items) - 1, -1, -1))
    return holder[""], changed

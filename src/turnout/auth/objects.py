"""Objects a request names that live in the provider account, not in the request.

Every gateway key shares the provider account, and the gateway serves none of the APIs that
make such objects (files, vector stores, stored prompts, Gemini cached contents, Anthropic
code-execution containers): an object there was made outside the gateway, and any key that
learnt its id could make the account read it into its own answer. With gateway keys, a
request naming one is refused before routing (as ``conversation`` is,
:mod:`turnout.conversations.step`), unless the operator says every key may use the account's
objects (``auth.account_objects: allow``). The master key (the operator) is never refused.

Cost: one regular-expression pass over the body for the keys that can carry such an id (0.4 µs
for a short chat request, ~0.5 µs per KiB beyond; ``bytes.find`` per key measured 3-6 times
more, JSON's many quotes defeating its fast path); the parsed request is walked only when one
is found, or when the body holds a ``\\u`` escape (a key can be spelt with one; SDKs that
escape every non-ASCII character make that common in some languages' traffic).
"""

from __future__ import annotations

import re
from typing import Any

from turnout.errors import BadRequest

# The fields that name an account object, in every protocol's spelling: OpenAI and Anthropic
# ``file_id`` (content parts, sources), ``vector_store_ids`` (file search), the Responses API's
# stored ``prompt`` (``{"id": "pmpt_…"}``), Anthropic's ``container``, Gemini's
# ``cachedContent`` and ``fileData.fileUri``.
FIELDS = frozenset(
    {
        "file_id",
        "vector_store_ids",
        "container",
        "cachedContent",
        "cached_content",
        "fileUri",
        "file_uri",
    }
)
# Any of them (or ``prompt``) as a JSON key: a cheap first look at the body's bytes. A quote
# inside a string value is escaped, so prose never matches unless it spells \"file_id\".
_MARKER = re.compile(
    rb'"(?:file_id|vector_store_ids|container|cached_?[cC]ontent|file_?[uU]ri|prompt)"'
)
_MAX_NODES = 200_000  # the walk is iterative and bounded by the body the server bounded


def named_object(body: bytes, data: dict[str, Any]) -> str | None:
    """The first field of ``data`` that names an account object, or None."""
    # A key may be spelt with escapes ("\u0066ile_id"), which only the parsed request shows.
    if _MARKER.search(body) is None and body.find(b"\\u") < 0:
        return None
    prompt = data.get("prompt")
    if isinstance(prompt, dict) and prompt.get("id") is not None:
        return "prompt"  # a stored prompt (Responses); a string prompt is the text itself
    stack: list[Any] = [data]
    seen = 0
    while stack and seen < _MAX_NODES:
        cur = stack.pop()
        seen += 1
        if isinstance(cur, dict):
            for key, value in cur.items():
                if key in FIELDS and value not in (None, "", []) and _held(key, value):
                    return str(key)
                if isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, dict | list))
    return None


def _held(key: str, value: Any) -> bool:
    """Whether a field's value names something the account holds: a Gemini file URI only when
    it is the Files API's or a Cloud Storage object (a public web or YouTube address is the
    client's own content, fetched by the provider)."""
    if key in ("fileUri", "file_uri"):
        return isinstance(value, str) and (value.startswith("gs://") or "/files/" in value)
    return True


def refusal(field: str) -> BadRequest:
    return BadRequest(
        f"'{field}' names an object stored in the provider account, which every key of this "
        "gateway shares; send the content itself (or ask the operator to set "
        "auth.account_objects: allow).",
        param=field,
    )

"""Small pure helpers shared by the protocol modules (no protocol knowledge here)."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.ir import JSON, TranslationError

# Effort <-> budget tables. Anthropic's minimum budget is 1024; "high" stays well below the
# usual max_tokens ceilings. Budgets map back to the nearest effort by these thresholds.
EFFORT_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
}
DEFAULT_EFFORT = "medium"


def effort_to_budget(effort: str | None) -> int:
    return EFFORT_BUDGETS.get(effort or DEFAULT_EFFORT, EFFORT_BUDGETS[DEFAULT_EFFORT])


def budget_to_effort(budget: int | None) -> str:
    if budget is None:
        return DEFAULT_EFFORT
    if budget <= EFFORT_BUDGETS["low"]:
        return "low"
    if budget <= EFFORT_BUDGETS["medium"]:
        return "medium"
    return "high"


# What a stream encoder may hold of one translated answer, in characters: a Responses client's
# stream ends with the whole answer (``response.completed``), a Gemini client's function call
# needs its complete arguments. Per-event limits (sse.MAX_EVENT_BYTES) do not bound a sum of
# small events: before, an upstream streaming 8 kB argument deltas without end grew the
# gateway by its whole stream (700 MB for 320 MB). The cap of a body read whole, by default.
MAX_HELD_CHARS = 32 * 1024 * 1024


def hold(total: int, text: str, extra: int = 0) -> int:
    """``total`` characters held plus ``text`` (and ``extra``, what holding it costs beyond its
    characters); past :data:`MAX_HELD_CHARS` a ValueError, which translation turns into the
    upstream's failure (502, or the client's error frame)."""
    total += len(text) + extra
    if total > MAX_HELD_CHARS:
        raise ValueError(f"the answer held for the client passed {MAX_HELD_CHARS} characters")
    return total


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def parse_arguments(raw: str | None, field: str) -> JSON:
    """Tool arguments arrive as a JSON string from OpenAI; every other target wants an object."""
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(field, f"tool call arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TranslationError(field, "tool call arguments must be a JSON object")
    return value


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media>;base64,<data>`` -> (media type, base64 data); None for other URLs."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[5:-7] or "application/octet-stream", data


def data_url(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"


_OPENAPI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's ``Schema`` (OpenAPI subset, upper-case types, ``nullable``) -> JSON Schema.

    Only walks the request's schema once; other targets reject upper-case type names.
    """
    if isinstance(schema, list):
        return [openapi_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: JSON = {}
    nullable = False
    for key, value in schema.items():
        if key == "type" and isinstance(value, str) and value in _OPENAPI_TYPES:
            out["type"] = value.lower()
        elif key == "nullable":
            nullable = bool(value)
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {k: openapi_to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties"):
            out[key] = openapi_to_json_schema(value)
        elif key == "propertyOrdering":
            continue
        else:
            out[key] = value
    if nullable and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def first_not_none(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None

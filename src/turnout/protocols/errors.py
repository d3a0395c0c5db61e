"""Translation errors and the protocol-neutral helpers each ``<protocol>/errors.py`` builds on.

The gateway catches :class:`TranslationError` around ``to_ir``/``from_ir`` and renders
``translation_error_info(exc)`` in the client's dialect (400, ``param`` = the field).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.ir import ErrorInfo, ErrorKind, TranslationError, kind_for_status

__all__ = [
    "ErrorInfo",
    "ErrorKind",
    "TranslationError",
    "kind_for_status",
    "load_error_body",
    "translation_error_info",
]


def translation_error_info(exc: TranslationError) -> ErrorInfo:
    return ErrorInfo(400, ErrorKind.INVALID_REQUEST, str(exc), param=exc.field)


def load_error_body(body: bytes | dict[str, Any] | None) -> dict[str, Any]:
    """Error bodies may be JSON, HTML from a proxy, or empty: never raise while reading one."""
    if isinstance(body, dict):
        return body
    if not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"_text": body[:2000].decode("utf-8", "replace")}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]  # Gemini's REST streaming wraps errors in an array
    return value if isinstance(value, dict) else {}

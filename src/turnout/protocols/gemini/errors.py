"""Gemini (Google API) error bodies: ``{"error": {"code", "message", "status"}}``."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.ir import JSON, ErrorInfo, ErrorKind, kind_for_status
from turnout.protocols.errors import load_error_body
from turnout.protocols.sse import frame

_STATUS: dict[ErrorKind, tuple[str, int | None]] = {
    ErrorKind.INVALID_REQUEST: ("INVALID_ARGUMENT", None),
    ErrorKind.AUTHENTICATION: ("UNAUTHENTICATED", 401),
    ErrorKind.PERMISSION: ("PERMISSION_DENIED", 403),
    ErrorKind.NOT_FOUND: ("NOT_FOUND", 404),
    ErrorKind.REQUEST_TOO_LARGE: ("INVALID_ARGUMENT", 413),
    ErrorKind.RATE_LIMIT: ("RESOURCE_EXHAUSTED", 429),
    ErrorKind.SERVER: ("INTERNAL", None),
    ErrorKind.OVERLOADED: ("UNAVAILABLE", 503),
    ErrorKind.UNAVAILABLE: ("UNAVAILABLE", 503),
    ErrorKind.TIMEOUT: ("DEADLINE_EXCEEDED", 504),
}
_KINDS: dict[str, ErrorKind] = {
    "INVALID_ARGUMENT": ErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorKind.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorKind.INVALID_REQUEST,
    "UNAUTHENTICATED": ErrorKind.AUTHENTICATION,
    "PERMISSION_DENIED": ErrorKind.PERMISSION,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMIT,
    "INTERNAL": ErrorKind.SERVER,
    "UNKNOWN": ErrorKind.SERVER,
    "UNAVAILABLE": ErrorKind.UNAVAILABLE,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
}


def error_object(info: ErrorInfo) -> tuple[int, JSON]:
    status_name, fixed = _STATUS.get(info.kind, ("INTERNAL", None))
    status = fixed or (info.status if info.status != 529 else 503)
    return status, {"code": status, "message": info.message, "status": status_name}


def render(info: ErrorInfo) -> tuple[int, JSON]:
    status, err = error_object(info)
    return status, {"error": err}


def render_stream(info: ErrorInfo) -> bytes:
    """The SDK raises ClientError/ServerError from ``error.code`` of a data frame."""
    _, err = error_object(info)
    return frame(orjson.dumps({"error": err}))


def parse(status: int, body: bytes | dict[str, Any] | None) -> ErrorInfo:
    data = load_error_body(body)
    err = data.get("error")
    if not isinstance(err, dict):
        return ErrorInfo(status, kind_for_status(status), data.get("_text") or f"HTTP {status}")
    code = err.get("code")
    if isinstance(code, int) and code >= 400:
        status = code
    name = str(err.get("status") or "")
    kind = _KINDS.get(name, kind_for_status(status))
    return ErrorInfo(status, kind, str(err.get("message") or f"HTTP {status}"), type=name or None)

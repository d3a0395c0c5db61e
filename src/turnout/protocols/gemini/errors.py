"""Gemini (Google API) error bodies: ``{"error": {"code", "message", "status"}}``.

Two directions: an upstream's error (:func:`parse`, :func:`render`, :func:`render_stream`, by
:class:`~turnout.ir.ErrorInfo` kind) and the gateway's own (:func:`gateway_body`,
:func:`gateway_frame`, by status).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from turnout.ir import JSON, ErrorInfo, ErrorKind, kind_for_status
from turnout.protocols.errors import load_error_body
from turnout.protocols.sse import frame

if TYPE_CHECKING:
    from turnout.errors import GatewayError

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


def error_json(info: ErrorInfo) -> bytes:
    """The error object of a stream, unframed (an SSE frame, or an element of the JSON array
    a stream without ``alt=sse`` is)."""
    _, err = error_object(info)
    return orjson.dumps({"error": err})


def render_stream(info: ErrorInfo) -> bytes:
    """The SDK raises ClientError/ServerError from ``error.code`` of a data frame."""
    return frame(error_json(info))


def parse(status: int, body: bytes | dict[str, Any] | None) -> ErrorInfo:
    data = load_error_body(body)
    err = data.get("error")
    if not isinstance(err, dict):
        return ErrorInfo(status, kind_for_status(status), data.get("_text") or f"HTTP {status}")
    code = err.get("code")
    # An error status the body names, within HTTP's: before, an upstream's 99999 or 2**63-1
    # became the status the gateway answered with (an Anthropic client's 529 is re-rendered
    # with the parsed status), and the server failed writing it (a 500).
    if type(code) is int and 400 <= code <= 599:
        status = code
    name = str(err.get("status") or "")
    kind = _KINDS.get(name, kind_for_status(status))
    return ErrorInfo(status, kind, str(err.get("message") or f"HTTP {status}"), type=name or None)


# The gateway's own errors: Google API status names per HTTP status (docs/protocols.md §3.2).
_GATEWAY_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    431: "INVALID_ARGUMENT",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gateway_body(err: GatewayError) -> bytes:
    status = _GATEWAY_STATUS.get(err.status, "UNKNOWN")
    return orjson.dumps({"error": {"code": err.status, "message": err.message, "status": status}})


def gateway_frame(err: GatewayError) -> bytes:
    """A data frame the SDK raises from; an upstream's error keeps its kind."""
    if err.upstream is not None:
        return render_stream(err.upstream)
    return frame(gateway_body(err))

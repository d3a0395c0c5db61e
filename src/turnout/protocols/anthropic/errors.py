"""Anthropic error bodies: ``{"type": "error", "error": {"type", "message"}}``.

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

_TYPES: dict[ErrorKind, tuple[str, int | None]] = {
    ErrorKind.INVALID_REQUEST: ("invalid_request_error", None),
    ErrorKind.AUTHENTICATION: ("authentication_error", 401),
    ErrorKind.PERMISSION: ("permission_error", 403),
    ErrorKind.NOT_FOUND: ("not_found_error", 404),
    ErrorKind.REQUEST_TOO_LARGE: ("request_too_large", 413),
    ErrorKind.RATE_LIMIT: ("rate_limit_error", 429),
    ErrorKind.SERVER: ("api_error", None),
    ErrorKind.OVERLOADED: ("overloaded_error", 529),
    ErrorKind.UNAVAILABLE: ("overloaded_error", 529),
    ErrorKind.TIMEOUT: ("api_error", None),
}
_KINDS: dict[str, ErrorKind] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "billing_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.REQUEST_TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "api_error": ErrorKind.SERVER,
    "overloaded_error": ErrorKind.OVERLOADED,
    "timeout_error": ErrorKind.TIMEOUT,
}
STATUS_FOR_TYPE: dict[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}  # fmt: skip


def error_object(info: ErrorInfo) -> tuple[int, JSON]:
    type_, status = _TYPES.get(info.kind, ("api_error", None))
    return status or info.status, {"type": type_, "message": info.message}


def render(info: ErrorInfo) -> tuple[int, JSON]:
    status, err = error_object(info)
    return status, {"type": "error", "error": err}


def render_stream(info: ErrorInfo) -> bytes:
    _, err = error_object(info)
    return frame(orjson.dumps({"type": "error", "error": err}), "error")


def parse(status: int, body: bytes | dict[str, Any] | None) -> ErrorInfo:
    data = load_error_body(body)
    err = data.get("error")
    if not isinstance(err, dict):
        return ErrorInfo(status, kind_for_status(status), data.get("_text") or f"HTTP {status}")
    type_ = str(err.get("type") or "")
    kind = _KINDS.get(type_, kind_for_status(status))
    return ErrorInfo(status, kind, str(err.get("message") or f"HTTP {status}"), type=type_ or None)


# The gateway's own errors: Anthropic error types per status (docs/protocols.md §2.3).
_GATEWAY_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    431: "invalid_request_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


def gateway_body(err: GatewayError) -> bytes:
    etype = _GATEWAY_TYPES.get(err.status, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": etype, "message": err.message}})


def gateway_frame(err: GatewayError) -> bytes:
    """An ``event: error`` frame; an upstream's error keeps its kind."""
    if err.upstream is not None:
        return render_stream(err.upstream)
    return frame(gateway_body(err), "error")

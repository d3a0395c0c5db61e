"""OpenAI error bodies: ``{"error": {"message", "type", "param", "code"}}``.

Two directions: an upstream's error (:func:`parse`, :func:`render`, :func:`render_stream`, by
:class:`~turnout.ir.ErrorInfo` kind) and the gateway's own (:func:`gateway_body`,
:func:`gateway_frame`, by the error class's type and code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from turnout.ir import JSON, ErrorInfo, ErrorKind, kind_for_status
from turnout.protocols.errors import load_error_body
from turnout.protocols.sse import frame

if TYPE_CHECKING:
    from turnout.errors import GatewayError

_TYPES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.SERVER: "server_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.TIMEOUT: "timeout_error",
}
_KINDS: dict[str, ErrorKind] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.RATE_LIMIT,
    "server_error": ErrorKind.SERVER,
    "timeout_error": ErrorKind.TIMEOUT,
}


def _status(info: ErrorInfo) -> int:
    # 529 is Anthropic-only; OpenAI SDKs retry any 5xx, so 503 keeps the retry semantics.
    return 503 if info.status == 529 else info.status


def error_object(info: ErrorInfo) -> JSON:
    return {
        "message": info.message,
        "type": _TYPES.get(info.kind, "server_error"),
        "param": info.param,
        "code": info.type if info.type and info.type not in _TYPES.values() else None,
    }


def render(info: ErrorInfo) -> tuple[int, JSON]:
    """(HTTP status, body) in OpenAI's dialect."""
    return _status(info), {"error": error_object(info)}


def render_stream(info: ErrorInfo) -> bytes:
    """A mid-stream error frame: the SDK raises APIError on any data with an ``error`` key."""
    return frame(orjson.dumps({"error": error_object(info)}))


def parse(status: int, body: bytes | dict[str, Any] | None) -> ErrorInfo:
    data = load_error_body(body)
    err = data.get("error")
    if not isinstance(err, dict):
        message = err if isinstance(err, str) else data.get("_text") or f"HTTP {status}"
        return ErrorInfo(status, kind_for_status(status), message)
    type_ = err.get("type") or err.get("code")
    kind = _KINDS.get(str(type_), kind_for_status(status))
    if status >= 500 or status in (401, 403, 404, 429):
        kind = kind_for_status(status)
    code = err.get("code")
    return ErrorInfo(
        status,
        kind,
        str(err.get("message") or f"HTTP {status}"),
        type=str(code or type_) if (code or type_) else None,
        param=err.get("param"),
    )


def gateway_body(err: GatewayError) -> bytes:
    return orjson.dumps(
        {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
    )


def gateway_frame(err: GatewayError) -> bytes:
    """The SDK raises APIError on any data frame with an ``error`` key; an upstream's error
    keeps its kind."""
    if err.upstream is not None:
        return render_stream(err.upstream)
    return frame(gateway_body(err))

"""Responses API errors. An HTTP error has the Chat Completions shape
(``{"error": {"message", "type", "param", "code"}}``, :mod:`turnout.protocols.openai.errors`);
inside a stream it is an ``error`` event. That event carries its fields at the top level, as
the API reference documents, and also under ``error``, as OpenAI sends them: the SDK raises
``APIError`` on a payload with an ``error`` key, so the application sees the failure.

A frame the gateway writes after a stream broke usually cannot know how many events came
before it; its ``sequence_number`` is then the largest a client can have seen (anything it
counted is lower). A relayed stream that stopped without its end event was followed event by
event (:mod:`turnout.protocols.responses.ends`): its error event takes the next number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from turnout.errors import StreamIncomplete
from turnout.ir import ErrorInfo, ErrorKind
from turnout.protocols.openai.errors import error_object, gateway_body, parse, render
from turnout.protocols.sse import frame

if TYPE_CHECKING:
    from turnout.errors import GatewayError

_LAST = 2**31 - 1
_CODES: dict[str, tuple[int, ErrorKind]] = {
    "rate_limit_exceeded": (429, ErrorKind.RATE_LIMIT),
    "rate_limit_error": (429, ErrorKind.RATE_LIMIT),
    "invalid_prompt": (400, ErrorKind.INVALID_REQUEST),
    "invalid_request_error": (400, ErrorKind.INVALID_REQUEST),
    "context_length_exceeded": (400, ErrorKind.INVALID_REQUEST),
    "authentication_error": (401, ErrorKind.AUTHENTICATION),
    "timeout_error": (504, ErrorKind.TIMEOUT),
}


def event_status(code: Any) -> tuple[int, ErrorKind]:
    """The status and kind an in-stream error ``code`` stands for (a server error when
    unknown)."""
    return _CODES.get(code, (500, ErrorKind.SERVER)) if isinstance(code, str) else (
        500, ErrorKind.SERVER)  # fmt: skip


def event_code(status: int) -> str:
    """The ``response.error.code`` for a failure of ``status`` (the SDK takes a fixed list)."""
    if status == 429:
        return "rate_limit_exceeded"
    if 400 <= status < 500:
        return "invalid_prompt"
    return "server_error"


def _event(error: dict[str, Any], sequence: int | None = None) -> bytes:
    payload = {
        "type": "error",
        "sequence_number": _LAST if sequence is None else sequence,
        "code": error.get("code") or error.get("type"),
        "message": error.get("message"),
        "param": error.get("param"),
        "error": error,
    }
    return frame(orjson.dumps(payload), "error")


def render_stream(info: ErrorInfo) -> bytes:
    return _event(error_object(info))


def gateway_frame(err: GatewayError) -> bytes:
    if err.upstream is not None:
        return render_stream(err.upstream)
    error = {"message": err.message, "type": err.type, "param": err.param, "code": err.code}
    # A relayed stream whose numbering was followed (ends.py) gets the next number.
    return _event(error, err.sequence_number if isinstance(err, StreamIncomplete) else None)


__all__ = [
    "event_code",
    "event_status",
    "gateway_body",
    "gateway_frame",
    "parse",
    "render",
    "render_stream",
]

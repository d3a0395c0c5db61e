"""Errors of the translation layer and the protocol-neutral error description.

Tree::

    Exception
    └── TranslationError   a request/response cannot be expressed in the target protocol;
                           the gateway answers 400 naming ``field`` (never a silent drop)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TranslationError(Exception):
    """Raised by ``from_ir``/``to_ir`` when a field has no faithful equivalent on the target."""

    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ErrorKind(StrEnum):
    """Protocol-neutral error reasons; each protocol renders its own type/status string."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"


@dataclass(slots=True)
class ErrorInfo:
    """An error parsed from (or to be rendered into) a protocol's error body."""

    status: int
    kind: ErrorKind
    message: str
    type: str | None = None
    """The protocol's own type/status/code string, kept for logs and same-protocol rendering."""
    param: str | None = None

    def __post_init__(self) -> None:
        # An upstream's error body is read as it came. Before, its ``param`` went through as
        # any JSON (``"param": {…}``, ``true``) into another protocol's error; no client's
        # error shape has room for anything but a string there.
        if self.param is not None and not isinstance(self.param, str):
            self.param = None


def kind_for_status(status: int) -> ErrorKind:
    """Fallback classification when a body carries no recognisable type."""
    if status == 401:
        return ErrorKind.AUTHENTICATION
    if status == 403:
        return ErrorKind.PERMISSION
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 413:
        return ErrorKind.REQUEST_TOO_LARGE
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status == 529:
        return ErrorKind.OVERLOADED
    if status == 503:
        return ErrorKind.UNAVAILABLE
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.INVALID_REQUEST

"""The root of the error tree (drawn in :mod:`turnout.errors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from turnout.ir import ErrorInfo


class GatewayError(Exception):
    """Base of every error the gateway itself raises toward a client."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False
    log_level: ClassVar[str] = "error"
    # An error inside an upstream stream: the upstream's own error, rendered in its kind.
    upstream: ErrorInfo | None = None

    def __init__(
        self, message: str, *, param: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Headers that tell SDKs whether to retry (docs/protocols.md §1.4 retry contract)."""
        out = [(b"x-should-retry", b"true" if self.retryable else b"false")]
        if self.retry_after is not None:
            out.append((b"retry-after", str(max(1, round(self.retry_after))).encode()))
        return out

"""The gateway's error tree, and how each error is shown to each client protocol.

Every failure the gateway reports is a :class:`GatewayError`. The class decides the HTTP
status, the machine-readable reason, whether a retry may help and how loudly to log it; the
rendering functions below decide the body shape, so a route handler never builds an error body
by hand and a client always sees its own protocol's error shape::

    GatewayError
    ├── BadRequest              400  malformed JSON, missing or wrong-typed fields
    │   └── TranslationUnsupported 400  a field the target protocol cannot express
    ├── AuthenticationFailed    401
    ├── PermissionDenied        403
    ├── ModelNotFound           404  the message lists the public models
    ├── NotFound                404  unknown route
    ├── PayloadTooLarge         413
    ├── RateLimited             429  carries Retry-After
    ├── UpstreamUnavailable     502  connection refused/reset, malformed upstream reply
    ├── NoHealthyDeployment     503  every deployment is cooling down
    └── UpstreamTimeout         504

An upstream's own 4xx/5xx is not a GatewayError: it is forwarded with its status and body.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import orjson

Protocol = Literal["openai", "anthropic", "gemini"]

# Anthropic error types per status (docs/protocols.md §2.3) and Gemini status names (§3.2).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GatewayError(Exception):
    """Base of every error the gateway itself raises toward a client."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False
    log_level: ClassVar[str] = "error"

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


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    log_level = "info"


class TranslationUnsupported(BadRequest):
    code = "unsupported_parameter"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"
    log_level = "info"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    log_level = "info"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    log_level = "info"


class ModelNotFound(NotFound):
    type = "invalid_request_error"
    code = "model_not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"
    log_level = "info"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True
    log_level = "warning"


class UpstreamUnavailable(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_unavailable"
    retryable = True
    log_level = "warning"


class NoHealthyDeployment(GatewayError):
    status = 503
    type = "api_error"
    code = "no_healthy_deployment"
    retryable = True
    log_level = "warning"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"
    retryable = True
    log_level = "warning"


def error_body(err: GatewayError, protocol: Protocol) -> bytes:
    """Render ``err`` in ``protocol``'s own error shape (docs/protocols.md §1-3, §5.3)."""
    if protocol == "anthropic":
        etype = _ANTHROPIC_TYPES.get(err.status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": etype, "message": err.message}})
    if protocol == "gemini":
        status = _GEMINI_STATUS.get(err.status, "UNKNOWN")
        return orjson.dumps(
            {"error": {"code": err.status, "message": err.message, "status": status}}
        )
    return orjson.dumps(
        {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
    )


def stream_error_frame(err: GatewayError, protocol: Protocol) -> bytes:
    """The in-band SSE frame that makes each SDK raise after a stream has started."""
    body = error_body(err, protocol)
    if protocol == "anthropic":
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"

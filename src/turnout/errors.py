"""The gateway's one error tree.

Every failure the gateway reports to a client is a :class:`GatewayError`. The class decides the
HTTP status, the machine-readable code, whether a retry may help (``x-should-retry``) and how
loudly to log it; each protocol's folder decides the body shape (``gateway_body`` and
``gateway_frame`` in ``protocols/<name>/errors.py``, reached through :func:`error_body` and
:func:`stream_error_frame`), so a route handler never builds an error body by hand and a client
always sees its own protocol's error shape::

    GatewayError                   500  server_error (the root is never raised itself)
    ├── BadRequest                 400  malformed JSON, missing or wrong-typed fields
    │   ├── TranslationUnsupported 400  a field the target protocol cannot express
    │   ├── Unmetered              400  a field that hides the call's usage (Responses
    │   │                               ``background``), from a key with a token limit or budget
    │   └── GuardrailRefused       400  a guardrail plugin refused the request or answer (names
    │                                   the plugin and rule)
    ├── AuthenticationFailed       401  missing, unknown or expired gateway key
    ├── PermissionDenied           403  the key may not use this model
    │   └── OutboundRefused        403  the outbound policy refused a destination (names the rule)
    ├── NotFound                   404  unknown route
    │   └── ModelNotFound          404  the message lists the public models
    ├── RequestTimeout             408  the client sent its head or body too slowly
    ├── PayloadTooLarge            413
    ├── HeadersTooLarge            431  too many header bytes or header lines
    ├── RateLimited                429  carries Retry-After
    │   └── LimitExceeded          429  a gateway rate limit; adds x-ratelimit-* headers
    ├── BudgetExceeded             429  insufficient_quota, x-should-retry: false
    ├── InternalError              500  an exception no layer mapped (a bug; logged with traceback)
    ├── StreamIncomplete           500  an upstream stream ended without its end marker
    ├── UpstreamUnavailable        502  connection refused/reset, malformed upstream reply
    │   ├── UpstreamInvalid        502  status out of range, body over the cap or of the wrong shape
    │   └── UpstreamGaveUp         502  every attempt failed; the gateway already retried
    ├── NoHealthyDeployment        503  every deployment is cooling down
    │   └── KeysRejected           503  the provider refused every key the gateway holds
    ├── LimitsUnavailable          503  limits backend down under on_redis_error: deny
    ├── AuthUnavailable            503  gateway keys not loaded yet
    ├── StorageUnavailable         503  the database did not take a write (POST /v1/feedback)
    ├── PluginUnavailable          503  a fail_closed plugin raised or ran out of time
    └── UpstreamTimeout            504
        ├── DeadlineExceeded       504  the request's deadline passed before any answer
        └── TimeoutGaveUp          504  every attempt timed out; the gateway already retried

An upstream's own 4xx/5xx answer is not a GatewayError: it is forwarded with its status and body
(translated into the client's protocol when the protocols differ). An error *inside* an
upstream stream becomes the GatewayError of its status with the upstream's
:class:`~turnout.ir.ErrorInfo` attached (``upstream``), so the client's error frame keeps the
upstream's kind (an overload stays an overload) rather than a generic type for the status.

Every other exception is internal to one layer and is mapped to this tree at exactly one place:

    TranslationError (ir)            -> TranslationUnsupported (request) or UpstreamUnavailable
                                        (response, stream): providers/translate.py
    ShapeError (protocols/shape.py)  -> BadRequest naming the field (request) or UpstreamInvalid
                                        (response, stream): providers/translate.py
    UpstreamError, OSError, TimeoutError, ProxyError, PoolTimeout in the HTTP client
                                     -> UpstreamUnavailable / UpstreamTimeout: upstream/pooled.py
    HostError (outbound addresses)   -> OutboundRefused: outbound/policy.py
    MockDisconnect                   -> UpstreamUnavailable: providers/mock.py
    StoreUnavailable, CorruptEntry, Unconvertible (cache)
                                     -> none: the request is served uncached (cache/service.py)
    RedisError, RedisClusterException, OSError (redis-py, turnout.redisconn.FAILURES)
                                     -> the local limiter or LimitsUnavailable (limits/redis.py),
                                        served uncached (cache/redis_store.py)
    ClientDisconnected, StreamAborted   control flow of api/io.py, never rendered
    CancelledError of a request whose client left before the response (server/protocol.py)
                                     -> logged 499 (408 for a stalled body): api/endpoint.py
    an exception or timeout inside a plugin hook
                                     -> PluginUnavailable (fail_closed) or nothing (fail_open):
                                        plugins/runner.py
    anything else on a request       -> InternalError, by :func:`as_gateway_error` in
                                        api/endpoint.py and api/io.py (the last boundary)

Exceptions of startup, the CLI, the admin API, the learned-routing tools and the mock's own
server (ConfigError, SecretKeyError, AdminDenied, RouterStoreError, SettingsError, …) never
meet a proxied request; a learned router's own failures route it by priority instead.
"""

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


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    log_level = "info"


class Unmetered(BadRequest):
    """A call whose usage the gateway would never see, from a key or team with a token limit
    or budget: admitted, it would be settled at its estimate whatever it generated. A
    Responses ``background`` response is generated after its answer (``queued``, no usage)
    and read by polling, so three background calls could spend far past a budget
    (docs/security.md, "Background responses under a budget")."""

    code = "unmetered_request"

    def __init__(self, field: str) -> None:
        super().__init__(
            f"'{field}' is not available to a key with a token limit or budget: the gateway "
            f"cannot count what such a request uses. Send it without '{field}' (stream a long "
            "response instead).",
            param=field,
        )


class PreviousResponseNotFound(BadRequest):
    """A Responses ``previous_response_id`` the gateway holds nothing for (unknown, expired,
    deleted or another key's), in OpenAI's words."""

    code = "previous_response_not_found"


class TranslationUnsupported(BadRequest):
    code = "unsupported_parameter"


class GuardrailRefused(BadRequest):
    """A guardrail plugin refused the request (or, mid-stream, the answer). ``plugin`` and
    ``rule`` name what refused, for the client's message and the request log
    (docs/plugins.md)."""

    code = "guardrail_refused"

    def __init__(self, message: str, *, plugin: str, rule: str) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.rule = rule


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"
    log_level = "info"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    log_level = "info"


class OutboundRefused(PermissionDenied):
    """The outbound policy refused a destination; ``rule`` names the rule (docs/security.md)."""

    code = "outbound_refused"
    log_level = "warning"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


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


class RequestTimeout(GatewayError):
    """Not retryable: a client too slow to send its request would be as slow again, and a
    slow-sending attacker should not get three tries per connection."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"
    log_level = "info"


class HeadersTooLarge(GatewayError):
    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"
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


class UpstreamInvalid(UpstreamUnavailable):
    """The upstream answered, but not with an answer of its protocol: a status outside
    200-599, a body over the size cap, a required field missing or of the wrong type. Logged
    with the reason where it is found (turnout.providers.relay, turnout.providers.translate)."""

    code = "upstream_invalid_response"


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


class InternalError(GatewayError):
    """An exception no layer mapped to the tree: a bug. Logged with its traceback."""


class StreamIncomplete(GatewayError):
    """An upstream stream ended without its protocol's end marker (a cut stream must not look
    like a finished one to the client)."""

    # For a protocol that numbers its events (Responses): the number the error event takes,
    # when the stream's own numbering was followed.
    sequence_number: int | None = None


class DeadlineExceeded(UpstreamTimeout):
    """The request's overall deadline passed before any deployment answered.

    Once the gateway has retried on its own, an SDK retrying the same request multiplies the
    load on a provider that is already failing (docs/reliability.md rows 5 and 6): this and the
    next three variants keep the status of their parent but tell clients
    ``x-should-retry: false``."""

    code = "deadline_exceeded"
    retryable = False


class UpstreamGaveUp(UpstreamUnavailable):
    """Every attempt failed at the transport level; the gateway already retried."""

    retryable = False


class TimeoutGaveUp(UpstreamTimeout):
    """Every attempt timed out; the gateway already retried."""

    retryable = False


class KeysRejected(NoHealthyDeployment):
    """The provider refused every key the gateway holds for this model (invalid, or out of
    quota). Not passed through as the upstream's 401: the client's own credentials are fine,
    and an upstream auth error may echo part of the provider key."""

    code = "upstream_keys_rejected"
    retryable = False


class LimitExceeded(RateLimited):
    """429 with Retry-After and the limit that was hit in ``x-ratelimit-*``."""

    def __init__(
        self, message: str, *, retry_after: float, extra: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.extra = extra

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [*super().headers(), *self.extra]


class BudgetExceeded(GatewayError):
    """A spent budget: OpenAI's own shape for a spent quota, so SDKs stop instead of retrying
    until the period ends."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"
    retryable = False
    log_level = "info"


class LimitsUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "limits_unavailable"
    retryable = True
    log_level = "warning"


class Overloaded(GatewayError):
    """Past ``server.max_concurrency`` (server/limits.py) or ``max_held_body_bytes``
    (api/bodies.py): refused before the body is read, for the client to retry."""

    status = 503
    type = "api_error"
    code = "overloaded"
    retryable = True
    log_level = "warning"


class AuthUnavailable(GatewayError):
    """Keys could not be loaded yet (the database was unreachable at start)."""

    status = 503
    type = "api_error"
    code = "auth_unavailable"
    retryable = True
    log_level = "warning"


class StorageUnavailable(GatewayError):
    """The request log's database did not take a write a client asked for (feedback)."""

    status = 503
    type = "api_error"
    code = "storage_unavailable"
    retryable = True
    log_level = "warning"


class PluginUnavailable(GatewayError):
    """A plugin set to ``on_error: fail_closed`` raised or exceeded its time budget: the call
    is refused rather than served unchecked (docs/plugins.md)."""

    status = 503
    type = "api_error"
    code = "plugin_unavailable"
    retryable = True
    log_level = "warning"


def as_gateway_error(exc: Exception) -> GatewayError:
    """The last boundary: what a client is told about ``exc``. Anything that is not already
    a GatewayError escaped every layer's own mapping, so it is an internal error."""
    if isinstance(exc, GatewayError):
        return exc
    return InternalError("internal error")


def error_body(err: GatewayError, protocol: str) -> bytes:
    """``err`` in ``protocol``'s own error shape (docs/protocols.md §1-3, §5.3); the shapes live
    in each protocol's folder (``protocols/<name>/errors.py``)."""
    from turnout.protocols.registry import PROTOCOLS

    return PROTOCOLS[protocol].error_body(err)


def stream_error_frame(err: GatewayError, protocol: str) -> bytes:
    """The in-band frame that makes ``protocol``'s SDK raise after a stream has started."""
    from turnout.protocols.registry import PROTOCOLS

    return PROTOCOLS[protocol].error_frame(err)

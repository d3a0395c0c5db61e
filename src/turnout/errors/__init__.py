"""The gateway's one error tree.

Every failure the gateway reports to a client is a :class:`GatewayError`. The class decides the
HTTP status, the machine-readable code, whether a retry may help (``x-should-retry``) and how
loudly to log it; each protocol's folder decides the body shape (``gateway_body`` and
``gateway_frame`` in ``protocols/<name>/errors.py``, reached through :func:`error_body` and
:func:`stream_error_frame`), so a route handler never builds an error body by hand and a client
always sees its own protocol's error shape. The root is in ``base.py``, the client's errors
(4xx) in ``client.py``, the gateway's and its upstreams' (5xx) in ``server.py``; every one is
imported from here::

    GatewayError                   500  server_error (the root is never raised itself)
    ├── BadRequest                 400  malformed JSON, missing or wrong-typed fields
    │   ├── TranslationUnsupported 400  a field the target protocol cannot express
    │   ├── OperationUnsupported   400  no deployment of the model serves the operation
    │   ├── Unmetered              400  a field that hides the call's usage (Responses
    │   │                               ``background``), from a key with a token limit or budget
    │   └── GuardrailRefused       400  a guardrail plugin refused the request or answer (names
    │                                   the plugin and rule)
    ├── AuthenticationFailed       401  missing, unknown or expired gateway key
    │   └── UnknownKey             401  a key in no table here (looked for once more first)
    ├── PermissionDenied           403  the key may not use this model
    │   ├── OutboundRefused        403  the outbound policy refused a destination (names the rule)
    │   └── Unpriced               403  model_not_priced: a budgeted key, a model with no price
    ├── NotFound                   404  unknown route
    │   └── ModelNotFound          404  the message lists the public models
    ├── RequestTimeout             408  the client sent its head or body too slowly
    ├── PayloadTooLarge            413
    ├── HeadersTooLarge            431  too many header bytes or header lines
    ├── RateLimited                429  carries Retry-After
    │   ├── LimitExceeded          429  a gateway rate limit; adds x-ratelimit-* headers
    │   └── TooManyHeld            429  a key holds its most batches; x-should-retry: false
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
    ├── Overloaded                 503  past server.max_concurrency or max_held_body_bytes
    ├── TransferCodingNotImplemented 501  a transfer coding other than a lone chunked
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

from turnout.errors.base import GatewayError
from turnout.errors.client import (
    AuthenticationFailed,
    BadRequest,
    BudgetExceeded,
    GuardrailRefused,
    HeadersTooLarge,
    LimitExceeded,
    ModelNotFound,
    NotFound,
    OperationUnsupported,
    OutboundRefused,
    PayloadTooLarge,
    PermissionDenied,
    PreviousResponseNotFound,
    RateLimited,
    RequestTimeout,
    TooManyHeld,
    TranslationUnsupported,
    UnknownKey,
    Unmetered,
    Unpriced,
)
from turnout.errors.server import (
    AuthUnavailable,
    DeadlineExceeded,
    InternalError,
    KeysRejected,
    LimitsUnavailable,
    NoHealthyDeployment,
    Overloaded,
    PluginUnavailable,
    StorageUnavailable,
    StreamIncomplete,
    TimeoutGaveUp,
    TransferCodingNotImplemented,
    UpstreamGaveUp,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnavailable,
)


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


__all__ = [
    "AuthUnavailable",
    "AuthenticationFailed",
    "BadRequest",
    "BudgetExceeded",
    "DeadlineExceeded",
    "GatewayError",
    "GuardrailRefused",
    "HeadersTooLarge",
    "InternalError",
    "KeysRejected",
    "LimitExceeded",
    "LimitsUnavailable",
    "ModelNotFound",
    "NoHealthyDeployment",
    "NotFound",
    "OperationUnsupported",
    "OutboundRefused",
    "Overloaded",
    "PayloadTooLarge",
    "PermissionDenied",
    "PluginUnavailable",
    "PreviousResponseNotFound",
    "RateLimited",
    "RequestTimeout",
    "StorageUnavailable",
    "StreamIncomplete",
    "TimeoutGaveUp",
    "TooManyHeld",
    "TransferCodingNotImplemented",
    "TranslationUnsupported",
    "UnknownKey",
    "Unmetered",
    "Unpriced",
    "UpstreamGaveUp",
    "UpstreamInvalid",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "as_gateway_error",
    "error_body",
    "stream_error_frame",
]

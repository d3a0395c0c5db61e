"""The errors of the gateway or its upstreams: 5xx (the tree is drawn in :mod:`turnout.errors`)."""

from __future__ import annotations

from turnout.errors.base import GatewayError


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


class TransferCodingNotImplemented(GatewayError):
    """A transfer coding the gateway does not decode (RFC 9112 §6.1; server/framing.py)."""

    status = 501
    type = "invalid_request_error"
    code = "transfer_coding_not_implemented"
    log_level = "info"

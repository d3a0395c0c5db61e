"""The errors a client caused: 4xx (the tree is drawn in :mod:`turnout.errors`)."""

from __future__ import annotations

from turnout.errors.base import GatewayError


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


class OperationUnsupported(BadRequest):
    """A deployment's provider does not serve the call's operation (a Groq deployment asked for
    embeddings, an Anthropic one for legacy completions): nothing was sent, and the router
    tries the model's next deployment before answering this."""


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


class UnknownKey(AuthenticationFailed):
    """A key found in no table of this process: another may have made it since this one
    last read the key store (turnout.auth.catchup), so it is looked for once more."""


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


class LimitExceeded(RateLimited):
    """429 with Retry-After and the limit that was hit in ``x-ratelimit-*``."""

    def __init__(
        self, message: str, *, retry_after: float, extra: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.extra = extra

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [*super().headers(), *self.extra]


class TooManyHeld(RateLimited):
    """A key holds as many stored objects (Message Batches) as it may: retrying will not help
    until it deletes some."""

    retryable = False


class BudgetExceeded(GatewayError):
    """A spent budget: OpenAI's own shape for a spent quota, so SDKs stop instead of retrying
    until the period ends."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"
    retryable = False
    log_level = "info"


class Unpriced(PermissionDenied):
    """A model the gateway has no price for (on some deployment that may serve it), asked by
    a key or team with a budget: the call would cost the budget nothing. 403, as a model the
    key may not use, with the model as ``param``; nothing is sent upstream
    (:mod:`turnout.budgets.estimate`)."""

    code = "model_not_priced"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model '{model[:200]}' has no price on this gateway, and this key or its team "
            "has a budget: its calls could not be counted against it. Use a priced model, or "
            "ask the operator to price it (pricing.models).",
            param="model",
        )

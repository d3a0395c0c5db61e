"""Refusals of the limits step, and the ``x-ratelimit-*`` headers every SDK knows.

Over a rate: 429 with ``Retry-After`` (SDKs wait that long and retry by themselves). Over a
budget: 429 ``insufficient_quota`` with ``x-should-retry: false``, OpenAI's own shape for a
spent quota, so SDKs stop instead of retrying until the period ends. Limits backend down under
``on_redis_error: deny``: 503 with ``Retry-After``.
"""

from __future__ import annotations

from turnout.errors import GatewayError, RateLimited
from turnout.limits.plan import Verdict
from turnout.types import Headers


def _spell(seconds: float) -> bytes:
    if seconds < 1:
        return b"%dms" % max(0, round(seconds * 1000))
    minutes, rest = divmod(round(seconds), 60)
    return b"%dm%ds" % (minutes, rest) if minutes else b"%ds" % rest


_SPELLED = [_spell(s) for s in range(0, 3600)]


def duration(seconds: float) -> bytes:
    """OpenAI's spelling of a reset time: ``250ms``, ``12s``, ``1m0s`` (whole seconds from a
    table: every answer of a rated key carries two)."""
    if 1 <= seconds < 3599.5:
        return _SPELLED[round(seconds)]
    return _spell(seconds)


_LR, _RR, _TR = (
    b"x-ratelimit-limit-requests",
    b"x-ratelimit-remaining-requests",
    b"x-ratelimit-reset-requests",
)
_LT, _RT, _TT = (
    b"x-ratelimit-limit-tokens",
    b"x-ratelimit-remaining-tokens",
    b"x-ratelimit-reset-tokens",
)


def rate_headers(v: Verdict) -> Headers:
    out: Headers = []
    if v.limit_requests is not None:
        out += (
            (_LR, b"%d" % v.limit_requests),
            (_RR, b"%d" % max(0, v.remaining_requests or 0)),
            (_TR, duration(v.reset_requests or 0.0)),
        )
    if v.limit_tokens is not None:
        out += (
            (_LT, b"%d" % v.limit_tokens),
            (_RT, b"%d" % max(0, v.remaining_tokens or 0)),
            (_TT, duration(v.reset_tokens or 0.0)),
        )
    return out


class LimitExceeded(RateLimited):
    """429 with Retry-After and the limit that was hit in ``x-ratelimit-*``."""

    def __init__(self, message: str, *, retry_after: float, extra: Headers) -> None:
        super().__init__(message, retry_after=retry_after)
        self.extra = extra

    def headers(self) -> Headers:
        return [*super().headers(), *self.extra]


class BudgetExceeded(GatewayError):
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

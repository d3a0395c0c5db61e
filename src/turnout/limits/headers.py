"""The ``x-ratelimit-*`` headers every SDK knows, as the limits step writes them.

The refusals themselves are in the error tree (:mod:`turnout.errors`): over a rate,
:class:`~turnout.errors.LimitExceeded` (429 with ``Retry-After``: SDKs wait that long and retry
by themselves); over a budget, :class:`~turnout.errors.BudgetExceeded` (429
``insufficient_quota`` with ``x-should-retry: false``); limits backend down under
``on_redis_error: deny``, :class:`~turnout.errors.LimitsUnavailable` (503 with ``Retry-After``).
"""

from __future__ import annotations

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

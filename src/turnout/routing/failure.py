"""How a route's attempts ended when none succeeded, and the client's answer for it.

The router keeps score; what the client then gets is decided here alone: the gateway's own
429 or 503 when nothing could be tried, the upstream's last answer (with the retry hints an
SDK reads), or the last error, worded as given up when the gateway retried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from turnout.errors import (
    GatewayError,
    KeysRejected,
    NoHealthyDeployment,
    RateLimited,
    TimeoutGaveUp,
    UpstreamGaveUp,
    UpstreamTimeout,
)
from turnout.health.targets import COOLING, KEYS, LIMITED
from turnout.routing import classify as c
from turnout.types import Call, Reply

# No deployment could take the request: (some) cooling down, all at rate limits, all keys
# rejected (see DeploymentHealth.blocked).
UNAVAILABLE = COOLING
_NO_RETRY = (b"x-should-retry", b"false")


@dataclass(slots=True)
class Failure:
    """How a model's attempts ended, when none succeeded."""

    reason: str
    reply: Reply | None = None
    error: GatewayError | None = None
    retry_after: float | None = None
    terminal: bool = False  # the gateway stopped retrying on purpose (retry budget)


def give_up(call: Call, failure: Failure, rate_limited_wait: float) -> Reply:
    """Turn the last failure into the client's answer (or raise it). ``rate_limited_wait``:
    the Retry-After of an upstream 429 that carried none (``cooldowns.rate_limited``)."""
    reason = failure.reason
    call.error = reason
    if reason == LIMITED:
        raise RateLimited(
            f"Every deployment of '{call.model}' is at its rate limit; retry later",
            retry_after=failure.retry_after,
        )
    if reason == UNAVAILABLE:
        raise NoHealthyDeployment(
            f"Every deployment of '{call.model}' is cooling down after failures; retry later",
            retry_after=failure.retry_after,
        )
    if reason == KEYS or reason in (c.INVALID_KEY, c.NO_QUOTA):
        what = "out of quota" if reason == c.NO_QUOTA else "rejected by the provider"
        raise KeysRejected(
            f"The gateway's provider keys for '{call.model}' are {what} "
            f"(last tried: {call.deployment}); an operator must fix them",
            retry_after=failure.retry_after,
        )
    if failure.reply is not None:
        reply = failure.reply
        if reason == c.RATE_LIMITED:
            if failure.retry_after is None:
                wait = max(1, math.ceil(rate_limited_wait))
                reply.headers.append((b"retry-after", str(wait).encode()))
        elif reason in c.CLIENT_REASONS or call.attempts > 1 or failure.terminal:
            reply.headers = [h for h in reply.headers if h[0] != b"x-should-retry"]
            reply.headers.append(_NO_RETRY)
        return reply
    err = failure.error
    assert err is not None
    if (call.attempts > 1 or failure.terminal) and err.retryable:
        cls = TimeoutGaveUp if isinstance(err, UpstreamTimeout) else UpstreamGaveUp
        raise cls(f"{err.message} (after {call.attempts} attempts)")
    raise err

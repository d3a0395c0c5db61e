"""Errors the router adds to the tree in :mod:`turnout.errors`.

Once the gateway has retried on its own, an SDK retrying the same request multiplies the load
on a provider that is already failing (docs/reliability.md rows 5 and 6). These variants keep
the status of their parent but tell clients ``x-should-retry: false``.
"""

from __future__ import annotations

from turnout.errors import NoHealthyDeployment, UpstreamTimeout, UpstreamUnavailable


class DeadlineExceeded(UpstreamTimeout):
    """The request's overall deadline passed before any deployment answered."""

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

"""Turn an upstream failure into a *reason*, because the reason decides what happens next.

Providers disagree about what their errors mean: OpenAI reports an exhausted quota as a 429
with ``code: insufficient_quota`` (a key problem, not a rate limit), Anthropic says "prompt is
too long" in a 400, Gemini says "API key not valid" in a 400. So each provider carries error
rules (status, dotted JSON path, regex, reason, priority): its own from the config, over the
defaults of its type (``error_rules`` in its descriptor, :mod:`turnout.providers.registry`:
every type has its own, so none silently loses the context-length or quota rules). The
highest-priority matching rule wins; with no match, the status decides.

    reason          what the router does
    invalid_key     mark the key invalid, try another key / deployment
    no_quota        mark the key out of quota, try another key / deployment
    rate_limited    cool the key down for Retry-After (or a default), fail over
    overloaded      short backoff retry, then fail over; counts toward the breaker
    server_error    fail over; counts toward the breaker
    timeout         fail over; counts toward the breaker
    context_length  the client's answer (or the context-length fallback models)
    content_filter  the client's answer
    bad_request     the client's answer: no retry, no cooldown, no verdict on the deployment

Client reasons never count for or against a deployment or key (not even as a success: bad
requests in a loop would dilute the failure rate and close a half-open breaker).
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Sequence
from typing import Any

import orjson

from turnout.config.compile import ErrorRuleSpec, ProviderSpec

INVALID_KEY = "invalid_key"
NO_QUOTA = "no_quota"
RATE_LIMITED = "rate_limited"
OVERLOADED = "overloaded"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
CONTEXT_LENGTH = "context_length"
CONTENT_FILTER = "content_filter"
BAD_REQUEST = "bad_request"
UNSERVED = "unserved"  # the deployment's provider does not serve the operation: nothing sent

KEY_REASONS = frozenset({INVALID_KEY, NO_QUOTA, RATE_LIMITED})
BREAKER_REASONS = frozenset({OVERLOADED, SERVER_ERROR, TIMEOUT})
CLIENT_REASONS = frozenset({CONTEXT_LENGTH, CONTENT_FILTER, BAD_REQUEST})
# What an upstream answers for a model name it does not know (or will not take).
_NAME_STATUSES = frozenset({400, 404, 422})


def by_status(status: int) -> str:
    if status in (401, 403):
        return INVALID_KEY
    if status == 402:
        return NO_QUOTA
    if status == 408:
        return TIMEOUT
    if status == 429:
        return RATE_LIMITED
    if status in (503, 529):
        return OVERLOADED
    if status >= 500:
        return SERVER_ERROR
    return BAD_REQUEST


def _dig(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


class Classifier:
    """A provider's rules (config first, then its type's defaults), highest priority first."""

    __slots__ = ("rules",)

    def __init__(self, rules: Sequence[ErrorRuleSpec]) -> None:
        # sorted() is stable: among equal priorities, the config's own rules stay in front.
        self.rules = tuple(sorted(rules, key=lambda r: -r.priority))

    @classmethod
    def for_provider(cls, spec: ProviderSpec) -> Classifier:
        from turnout.providers.registry import provider_type  # provider modules import this

        return cls((*spec.error_rules, *provider_type(spec.type).error_rules))

    def classify(self, status: int, body: bytes, chosen: bool = False) -> str:
        """The reason of an upstream answer with ``status`` >= 400. ``chosen``: the upstream
        model was named by the caller (a ``model: "*"`` deployment), so an answer that says
        it does not exist is the caller's fault, whatever a rule says a missing deployment
        means for a model the operator configured (Azure's ``DeploymentNotFound``, Bedrock's
        ``ResourceNotFoundException``: fail over, count toward the breaker)."""
        reason = self._classify(status, body)
        if chosen and status in _NAME_STATUSES and reason in BREAKER_REASONS:
            return BAD_REQUEST
        return reason

    def _classify(self, status: int, body: bytes) -> str:
        parsed: Any = ...
        text: str | None = None
        for rule in self.rules:
            if rule.statuses is not None and status not in rule.statuses:
                continue
            if rule.path is not None:
                if parsed is ...:
                    try:
                        parsed = orjson.loads(body)
                    except orjson.JSONDecodeError:
                        parsed = None
                value = _dig(parsed, rule.path)
                if value is None:
                    continue
                if rule.pattern is None or rule.pattern.search(
                    value if isinstance(value, str) else orjson.dumps(value).decode()
                ):
                    return rule.reason
            elif rule.pattern is not None:
                if text is None:
                    text = body.decode("utf-8", "replace")
                if rule.pattern.search(text):
                    return rule.reason
            else:
                return rule.reason
        return by_status(status)


def retry_after(headers: Sequence[tuple[bytes, bytes]], cap: float) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (delta seconds or an HTTP date), at
    most ``cap``: the upstream's word cools a key down, and ``inf``, ``1e12`` or a date in
    the year 9999 must not take it out of service for good (NaN counts as 0)."""
    seconds: float | None = None
    for name, value in headers:
        if name == b"retry-after-ms":
            with contextlib.suppress(ValueError):
                return min(max(0.0, float(value) / 1000), cap)
        elif name == b"retry-after":
            text = value.decode("latin-1").strip()
            try:
                seconds = max(0.0, float(text))
            except ValueError:
                with contextlib.suppress(TypeError, ValueError, OverflowError):
                    when = email.utils.parsedate_to_datetime(text)
                    seconds = max(0.0, when.timestamp() - time.time())
    return None if seconds is None else min(seconds, cap)

"""Anthropic Messages inbound operations.

Clients authenticate with ``x-api-key`` (SDK 0.x) or ``Authorization: Bearer`` (SDK 2.x); both
are accepted and neither is ever relayed upstream (the provider sends its own key). Any
``anthropic-version`` is accepted: SDKs send dates the gateway has never seen.
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.descriptor import Route, require_model, stream_flag
from turnout.types import Scope


def _messages(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), stream_flag(data)


def _count_tokens(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), False


MESSAGES = Route("messages", _messages)
COUNT_TOKENS = Route("count_tokens", _count_tokens)

"""Anthropic Messages API.

``base_url`` is the bare origin (``https://api.anthropic.com``), as the Anthropic SDK takes it;
the operation's path is appended. The client's ``anthropic-version`` and ``anthropic-beta`` pass
through (the client chose the API revision and betas its body is written for); otherwise
:data:`DEFAULT_VERSION`, the revision translated bodies are written for, is sent.
"""

from __future__ import annotations

from typing import ClassVar

from turnout.providers.base import HTTPProvider
from turnout.types import Call

DEFAULT_VERSION = "2023-06-01"
_PATHS = {"messages": "/v1/messages", "count_tokens": "/v1/messages/count_tokens"}


class AnthropicProvider(HTTPProvider):
    protocol: ClassVar[str] = "anthropic"
    passthrough_headers = frozenset({b"anthropic-version", b"anthropic-beta"})

    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return [("x-api-key", key)]

    def url(self, call: Call, upstream_model: str) -> str:
        return self.spec.base_url + _PATHS[call.operation]

    def request_headers(self, call: Call, key: str) -> list[tuple[str, str]]:
        headers = super().request_headers(call, key)
        if b"anthropic-version" not in call.headers:
            headers.append(("anthropic-version", DEFAULT_VERSION))
        return headers

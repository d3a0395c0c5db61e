"""Anthropic Messages API.

``base_url`` is the bare origin (``https://api.anthropic.com``), as the Anthropic SDK takes it;
the operation's path is appended. The client's ``anthropic-version`` and ``anthropic-beta`` pass
through (the client chose the API revision and betas its body is written for); otherwise
:data:`DEFAULT_VERSION`, the revision translated bodies are written for, is sent.
"""

from __future__ import annotations

from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import Auth, ProviderType, rules, template
from turnout.types import Call

DEFAULT_VERSION = "2023-06-01"


class AnthropicProvider(HTTPProvider):
    passthrough_headers = frozenset({b"anthropic-version", b"anthropic-beta"})
    paths = {"messages": "/v1/messages", "count_tokens": "/v1/messages/count_tokens"}

    def request_headers(self, call: Call, key: str) -> list[tuple[str, str]]:
        headers = super().request_headers(call, key)
        if b"anthropic-version" not in call.headers:
            headers.append(("anthropic-version", DEFAULT_VERSION))
        return headers


# "prompt is too long" is a 400; an empty credit balance is a 400 or 403 naming it.
ANTHROPIC_RULES = rules(
    {"status": 400, "path": "error.message", "match": "(?i)prompt is too long",
     "reason": "context_length"},
    # The message's fixed opening, never a search: a 400 quotes what the client sent.
    {"status": [400, 403], "path": "error.message", "match": "^Your credit balance",
     "reason": "no_quota"},
)  # fmt: skip

ANTHROPIC = ProviderType(
    name="anthropic",
    protocol="anthropic",
    provider=AnthropicProvider,
    base_url="https://api.anthropic.com",
    auth=Auth("x-api-key"),
    error_rules=ANTHROPIC_RULES,
    template=template("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    otel_name="anthropic",
    key_env="ANTHROPIC_API_KEY",
    zero_config_models=("claude-*",),
    summary="Anthropic Messages API",
)

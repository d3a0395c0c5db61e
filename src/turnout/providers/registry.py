"""Provider type → implementing class, imported lazily so an unused provider costs nothing.

Adding a provider is one module and one line here; its name appears nowhere else.
"""

from __future__ import annotations

import importlib
from typing import Any

from turnout.config.compile import ProviderSpec
from turnout.providers.base import Provider
from turnout.upstream.base import UpstreamClient

PROVIDERS: dict[str, str] = {
    "openai": "turnout.providers.openai:OpenAIProvider",
    "openai-compatible": "turnout.providers.openai:OpenAIProvider",
    "anthropic": "turnout.providers.anthropic:AnthropicProvider",
    "gemini": "turnout.providers.gemini:GeminiProvider",
    "mock": "turnout.providers.mock:MockProvider",
}


def provider_class(type_name: str) -> Any:
    target = PROVIDERS.get(type_name, type_name)
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_provider(spec: ProviderSpec, client: UpstreamClient) -> Provider:
    cls = provider_class(spec.type)
    provider: Provider = cls(spec, client)
    return provider

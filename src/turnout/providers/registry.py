"""Provider types by name: one registration each, imported only when a config uses them.

Adding a provider type is one module that defines a
:class:`~turnout.providers.descriptor.ProviderType` (usually beside its provider class) and one
line in :data:`BUILTIN`; its name then appears nowhere else: the schema, the validator, the
compiler, the classifier, tracing, ``turnout config create`` and zero-config mode all read the
descriptor from here. A type may also be named by its import path (``package.module:NAME``),
which is how a type outside this package is used without editing this file.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from turnout.providers.descriptor import ProviderType

if TYPE_CHECKING:
    from turnout.config.compile import ProviderSpec
    from turnout.providers.base import Provider
    from turnout.upstream.base import UpstreamClient

BUILTIN: Mapping[str, str] = MappingProxyType(
    {
        "openai": "turnout.providers.openai:OPENAI",
        "openai-compatible": "turnout.providers.openai:OPENAI_COMPATIBLE",
        "anthropic": "turnout.providers.anthropic:ANTHROPIC",
        "gemini": "turnout.providers.gemini:GEMINI",
        "mock": "turnout.providers.mock:MOCK",
        "openrouter": "turnout.providers.vendors:OPENROUTER",
        "groq": "turnout.providers.vendors:GROQ",
        "mistral": "turnout.providers.vendors:MISTRAL",
        "deepseek": "turnout.providers.vendors:DEEPSEEK",
        "together": "turnout.providers.vendors:TOGETHER",
        "azure": "turnout.providers.azure:AZURE",
        "vertex": "turnout.providers.vertex:VERTEX",
        "bedrock": "turnout.providers.bedrock:BEDROCK",
    }
)


class UnknownProviderType(ValueError):
    """A config names a provider type that is neither built in nor importable."""


def names() -> tuple[str, ...]:
    """The built-in provider types, in registration order."""
    return tuple(BUILTIN)


def provider_type(name: str) -> ProviderType:
    """The descriptor of the type ``name`` (a built-in name, or ``package.module:NAME``)."""
    target = BUILTIN.get(name)
    if target is None and ":" not in name:
        raise UnknownProviderType(f"unknown provider type '{name}'")
    module, _, attr = (target or name).partition(":")
    try:
        found: Any = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownProviderType(f"cannot load provider type '{name}': {exc}") from None
    if not isinstance(found, ProviderType):
        raise UnknownProviderType(f"'{name}' is not a ProviderType")
    if target is not None and found.name != name:
        raise UnknownProviderType(f"'{target}' is registered as '{name}' but names '{found.name}'")
    return found


def provider_types() -> tuple[ProviderType, ...]:
    """Every built-in type (imports them all: for listings, not for serving)."""
    return tuple(provider_type(name) for name in BUILTIN)


def provider_class(type_name: str) -> Any:
    return provider_type(type_name).provider


def build_provider(spec: ProviderSpec, client: UpstreamClient) -> Provider:
    provider: Provider = provider_type(spec.type).provider(spec, client)
    if spec.streaming_mode == "disabled":  # streams replayed from whole answers
        from turnout.providers.unstreamed import Unstreamed

        return Unstreamed(provider)
    return provider


__all__ = [
    "BUILTIN",
    "ProviderType",
    "UnknownProviderType",
    "build_provider",
    "names",
    "provider_class",
    "provider_type",
    "provider_types",
]

"""Configs built from the command line instead of a file: zero-config, ``--demo`` and
``--base-url``. They produce the same raw tree a YAML file would, so they go through the same
validator and compiler and cannot drift from what a file can express."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def env_keys() -> tuple[str, ...]:
    """The variables zero-config mode looks for (to say so when it finds none)."""
    from turnout.providers.registry import provider_types

    return tuple(k.key_env for k in provider_types() if k.key_env and k.zero_config_models)


def from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """Serve every provider whose API key is in the environment, each for its model family:
    the provider types that name a key variable and the models it serves (``key_env`` and
    ``zero_config_models`` in their descriptors), in registration order; each provider is
    named after its type."""
    from turnout.providers.registry import provider_types

    raw: dict[str, Any] = {"providers": {}, "models": {}}
    for kind in provider_types():
        key = env.get(kind.key_env) if kind.key_env and kind.zero_config_models else None
        if not key:
            continue
        raw["providers"][kind.name] = {"type": kind.name, "api_keys": [key]}
        for pattern in kind.zero_config_models:
            raw["models"].setdefault(pattern, {"deployments": [{"provider": kind.name}]})
    return raw


def add_demo(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the built-in mock provider so a newcomer can call the gateway with no key at all."""
    raw.setdefault("providers", {})["mock"] = {"type": "mock"}
    models = raw.setdefault("models", {})
    models.setdefault("demo", {"deployments": [{"provider": "mock", "model": "mock-1"}]})
    models.setdefault("mock-*", {"deployments": [{"provider": "mock"}]})
    # With nothing else configured, any model name works, so SDK examples run unchanged.
    if len(raw["providers"]) == 1:
        models.setdefault("*", {"deployments": [{"provider": "mock"}]})
    return raw


def single_upstream(base_url: str, ptype: str, api_key: str | None) -> dict[str, Any]:
    """Proxy every model name to one upstream."""
    return {
        "providers": {
            "upstream": {"type": ptype, "base_url": base_url, "api_keys": [api_key or "none"]}
        },
        "models": {"*": {"deployments": [{"provider": "upstream"}]}},
    }

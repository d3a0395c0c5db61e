"""One gateway for the whole conformance suite, with one provider of every type.

Every provider points at the session's mock server, which speaks all three protocols at their
real paths; each public model ``m-<type>`` routes to exactly one provider, so a test picks a
matrix cell by picking a client SDK and a model. The error scenario must not disturb the
cells that run after it, so rate-limit cooldowns are off and the breaker is out of reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.procs import Proc, start_gateway

PROVIDER_TYPES = ("openai", "anthropic", "gemini")
# An OpenAI provider proper (type openai), which speaks the Responses API too: a Responses
# client's calls pass through to it, where they are translated for the "openai" provider
# (an OpenAI-compatible server: Chat Completions only).
NATIVE = "openai-native"
UPSTREAM_MODEL = {t: f"up-{t}" for t in (*PROVIDER_TYPES, NATIVE)}
# What the mock reports in x-mock-auth: the provider's own credential style, nothing else.
AUTH_STYLE = {
    "openai": "bearer",
    "anthropic": "x-api-key",
    "gemini": "x-goog-api-key",
    NATIVE: "bearer",
}


def model_for(provider_type: str) -> str:
    return f"m-{provider_type}"


def conformance_config(mock: Proc) -> dict[str, Any]:
    def provider(kind: str, base_url: str) -> dict[str, Any]:
        return {
            "type": kind,
            "base_url": base_url,
            "api_keys": [f"sk-upstream-{kind}-0001"],
            "forward_headers": ["x-mock-*"],
        }

    return {
        "providers": {
            "openai": provider("openai-compatible", f"{mock.url}/v1"),
            "anthropic": provider("anthropic", mock.url),
            "gemini": provider("gemini", mock.url),
            NATIVE: provider("openai", f"{mock.url}/v1"),
        },
        "models": {
            model_for(t): {"deployments": [{"provider": t, "model": UPSTREAM_MODEL[t]}]}
            for t in (*PROVIDER_TYPES, NATIVE)
        },
        "routing": {
            "overloaded_retries": 0,
            "cooldowns": {"rate_limited": 0},
            "breaker": {"consecutive_failures": 1000, "min_requests": 100000},
        },
        "logging": {"requests": False},
    }


@pytest.fixture(scope="session")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(conformance_config(mock), tmp_path_factory.mktemp("conformance"))
    yield proc
    proc.stop()

"""One gateway for the whole conformance suite, with one provider of every type.

Every provider points at the session's mock server, which speaks all three protocols at their
real paths; each public model ``m-<type>`` routes to exactly one provider, so a test picks a
matrix cell by picking a client SDK and a model. The error scenario must not disturb the
cells that run after it, so rate-limit cooldowns are off and the breaker is out of reach.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Proc, start_gateway

PROVIDER_TYPES = ("openai", "anthropic", "gemini")
# An OpenAI provider proper (type openai), which speaks the Responses API too: a Responses
# client's calls pass through to it, where they are translated for the "openai" provider
# (an OpenAI-compatible server: Chat Completions only).
NATIVE = "openai-native"
RESPONSES_ONLY = "m-responses-only"
UPSTREAM_MODEL = {t: f"up-{t}" for t in (*PROVIDER_TYPES, NATIVE)}
# What the mock reports in x-mock-auth: the provider's own credential style, nothing else.
AUTH_STYLE = {
    "openai": "bearer",
    "anthropic": "x-api-key",
    "gemini": "x-goog-api-key",
    NATIVE: "bearer",
}


# The clouds as upstream columns of the matrix (test_matrix.py): the mock plays each cloud at
# its real paths and accepts any credential here (tests/integration/clouds checks them).
CLOUD_TYPES = ("azure", "vertex", "vertex-claude", "bedrock", "bedrock-converse")
UPSTREAM_MODEL.update(
    {
        "azure": "up-azure",
        "vertex": "up-vertex",
        "vertex-claude": "claude-up-vertex",
        "bedrock": "us.anthropic.up-bedrock-v1:0",
        "bedrock-converse": "us.meta.up-converse-v1:0",
    }
)
AUTH_STYLE.update(
    {
        "azure": "api-key",
        "vertex": "bearer",
        "vertex-claude": "bearer",
        "bedrock": "authorization",
        "bedrock-converse": "authorization",
    }
)


def model_for(provider_type: str) -> str:
    return f"m-{provider_type}"


def _cloud_providers(mock: Proc) -> dict[str, Any]:
    """The three clouds in front of the mock: a key for Azure, a service account whose token
    endpoint is the mock's for Vertex, an access key pair for Bedrock."""
    from tests.support.clouds import account_file, rsa_key

    account = account_file(
        Path(tempfile.mkdtemp(prefix="turnout-sa-")) / "sa.json", rsa_key(), f"{mock.url}/token"
    )
    vertex = {
        "type": "vertex",
        "base_url": mock.url,
        "api_keys": [str(account)],
        "options": {"project": "proj-0001", "location": "us-east5"},
        "forward_headers": ["x-mock-*"],
    }
    bedrock = {
        "type": "bedrock",
        "base_url": mock.url,
        "api_keys": ["AKIAUPSTREAM00000001:upstream/secret/0001"],
        "options": {"region": "us-east-1"},
        "forward_headers": ["x-mock-*"],
    }
    return {
        "azure": {
            "type": "azure",
            "base_url": mock.url,
            "api_keys": ["az-upstream-key-0001"],
            "forward_headers": ["x-mock-*"],
        },
        "vertex": vertex,
        "vertex-claude": vertex,
        "bedrock": bedrock,
        "bedrock-converse": bedrock,  # a model that is not Anthropic's: through Converse
    }


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
            **_cloud_providers(mock),
        },
        "models": {
            model_for(t): {"deployments": [{"provider": t, "model": UPSTREAM_MODEL[t]}]}
            for t in (*PROVIDER_TYPES, NATIVE, *CLOUD_TYPES)
        }
        | {  # a model OpenAI serves only through the Responses API
            RESPONSES_ONLY: {
                "deployments": [{"provider": NATIVE, "model": "up-responses", "api": "responses"}]
            }
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
    tmp = tmp_path_factory.mktemp("conformance")
    proc = start_gateway(conformance_config(mock), tmp, ready_within=60)  # a loaded machine
    yield proc
    proc.stop()

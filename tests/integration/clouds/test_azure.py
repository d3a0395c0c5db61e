"""Azure OpenAI as an upstream, in real processes: the mock plays Azure (deployment URLs, the
``api-key`` header, Entra ID tokens from its own token endpoint, Azure's filter results and
error shapes) and checks every credential; the official SDKs judge the gateway.

Azure's own client in the ``openai`` SDK (``AzureOpenAI``) is pointed at the mock first, to
confirm that the mock speaks the real wire format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.support.clouds import (
    BACKUP,
    assert_tool_call_streamed,
    backup_provider,
    start_cloud_mock,
    with_backup,
)
from tests.support.procs import Proc, start_gateway

KEY = "az-resource-key-0001"
SECRET = "entra-client-secret-0001"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    azure = {"api_keys": [KEY], "client_id": "app-0001", "client_secret": SECRET}
    proc = start_cloud_mock(tmp_path_factory.mktemp("azure"), {"azure": azure})
    yield proc
    proc.stop()


def _entra(cloud: Proc, secret: str) -> dict[str, Any]:
    return {
        "tenant_id": "tenant-0001",
        "client_id": "app-0001",
        "client_secret": secret,
        "authority": cloud.url,
    }


@pytest.fixture(scope="module")
def gw(cloud: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("azure-gw")
    base = {"type": "azure", "base_url": cloud.url, "forward_headers": ["x-mock-*"]}
    config = {
        "routing": {"backoff": {"base": 0, "max": 0}},
        "providers": {
            "az": {**base, "api_keys": [KEY]},
            "az-v1": {**base, "api_keys": [KEY], "options": {"api": "v1"}},
            "az-entra": {**base, "options": {"entra": _entra(cloud, SECRET)}},
            "az-bad-key": {**base, "api_keys": ["az-wrong-key-0001"]},
            "az-bad-secret": {**base, "options": {"entra": _entra(cloud, "wrong-secret")}},
            "backup": backup_provider(cloud),
        },
        "models": {
            "gpt-az": {"deployments": [{"provider": "az", "model": "gpt4o-deployment"}]},
            "gpt-v1": {"deployments": [{"provider": "az-v1", "model": "gpt4o-deployment"}]},
            "gpt-entra": {"deployments": [{"provider": "az-entra", "model": "gpt4o-deployment"}]},
            "gpt-failover": with_backup("az-bad-key", "gpt4o-deployment"),
            "gpt-bad-secret": with_backup("az-bad-secret", "gpt4o-deployment"),
        },
    }
    proc = start_gateway(config, tmp, ready_within=60)
    yield proc
    proc.stop()


def _openai(gw: Proc) -> openai.OpenAI:
    # Strict: the gateway leaves out Azure's prompt-filter chunk (object ""), which fails
    # the SDK's strict mode against Azure itself.
    return openai.OpenAI(
        api_key="k", base_url=f"{gw.url}/v1", max_retries=0, _strict_response_validation=True
    )


def _stats(cloud: Proc) -> dict[str, int]:
    by_path: dict[str, int] = httpx.get(f"{cloud.url}/_mock/stats").json()["by_path"]
    return by_path


# -- the mock is Azure: Azure's own client talks to it -------------------------------------------
def test_azure_sdk_client_speaks_to_the_mock(cloud: Proc) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=cloud.url, api_key=KEY, api_version="2024-10-21", max_retries=0
    )
    reply = client.chat.completions.create(model="gpt4o-deployment", messages=MESSAGES)
    assert reply.model == "gpt4o-deployment"
    assert reply.choices[0].message.content
    chunks = list(
        client.chat.completions.create(model="gpt4o-deployment", messages=MESSAGES, stream=True)
    )
    assert chunks[0].choices == []  # Azure's prompt-filter chunk comes first
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_azure_sdk_client_with_a_wrong_key_is_refused(cloud: Proc) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=cloud.url, api_key="nope", api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt4o-deployment", messages=MESSAGES)


# -- through the gateway ---------------------------------------------------------------------------
def test_openai_client_reaches_the_deployment(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="gpt-az", messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == "az/gpt4o-deployment"
    reply = raw.parse()
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.total_tokens > 0


def test_openai_stream_with_a_tool_call(gw: Proc) -> None:
    stream = _openai(gw).chat.completions.create(
        model="gpt-az",
        messages=[{"role": "user", "content": "Call get_weather for Paris"}],
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert_tool_call_streamed(list(stream))


def test_the_v1_api(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="gpt-v1", messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == "az-v1/gpt4o-deployment"
    assert raw.parse().choices[0].message.content


def test_anthropic_client_is_translated_to_azure_and_streams(gw: Proc) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    with client.messages.stream(model="gpt-az", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.usage.output_tokens > 0


def test_gemini_client_is_translated_to_azure(gw: Proc) -> None:
    options = types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    client = genai.Client(api_key="k", http_options=options)
    reply = client.models.generate_content(model="gpt-entra", contents="hi")
    assert reply.text
    stream = client.models.generate_content_stream(model="gpt-az", contents="hi")
    assert "".join(c.text or "" for c in stream)


def test_entra_token_is_fetched_once_and_reused(gw: Proc, cloud: Proc) -> None:
    token_path = "/tenant-0001/oauth2/v2.0/token"
    before = _stats(cloud).get(token_path, 0)
    for _ in range(3):
        reply = _openai(gw).chat.completions.create(model="gpt-entra", messages=MESSAGES)
        assert reply.choices[0].message.content
    assert _stats(cloud).get(token_path, 0) - before <= 1


def test_a_refused_key_fails_over(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="gpt-failover", messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == BACKUP


def test_a_refused_client_secret_fails_over_and_is_never_shown(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="gpt-bad-secret", messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == BACKUP
    assert "wrong-secret" not in gw.output()


def test_azure_content_filter_through_the_gateway(gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(gw).chat.completions.create(
            model="gpt-az", messages=MESSAGES, extra_headers={"x-mock-content-filter": "1"}
        )
    assert caught.value.code == "content_filter"
    assert caught.value.response.headers["x-turnout-attempts"] == "1"

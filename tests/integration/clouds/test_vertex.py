"""Google Vertex AI as an upstream, in real processes: the mock plays Vertex (project and
location URLs, Gemini and Claude publishers) and Google's token endpoint, which only issues a
token for a JWT assertion signed by the service account's key (verified by google-auth); the
official SDKs judge the gateway.

google-genai in Vertex mode and Anthropic's ``AnthropicVertex`` client are pointed at the mock
first, to confirm that it speaks the real wire format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.auth.transport.requests import Request
from google.genai import types
from google.oauth2 import service_account

from tests.support.clouds import (
    BACKUP,
    EMAIL,
    PROJECT,
    Cloud,
    account_file,
    backup_provider,
    public_pem,
    rsa_key,
    start_cloud_mock,
    with_backup,
)
from tests.support.procs import Proc, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hi"}]
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp = tmp_path_factory.mktemp("vertex")
    key = rsa_key()
    proc = start_cloud_mock(tmp, {"google": {"client_email": EMAIL, "public_key": public_pem(key)}})
    url = proc.url
    account = account_file(tmp / "sa.json", key, f"{url}/token")
    forged = account_file(tmp / "forged.json", rsa_key(), f"{url}/token")  # same account, wrong key
    yield Cloud(proc, account, forged)
    proc.stop()


@pytest.fixture(scope="module")
def gw(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("vertex-gw")
    options = {"project": PROJECT, "location": "us-east5"}
    base = {"type": "vertex", "base_url": cloud.url, "forward_headers": ["x-mock-*"]}
    config = {
        "routing": {"backoff": {"base": 0, "max": 0}},
        "providers": {
            "vertex": {**base, "api_keys": [str(cloud.account)], "options": options},
            "vertex-file": {**base, "options": {**options, "credentials_file": str(cloud.account)}},
            "vertex-forged": {**base, "api_keys": [str(cloud.forged)], "options": options},
            "vertex-adc": {**base, "options": options},  # Application Default Credentials
            "backup": backup_provider(cloud.proc),
        },
        "models": {
            "gemini-vx": {"deployments": [{"provider": "vertex", "model": "gemini-2.5-flash"}]},
            "claude-vx": {"deployments": [{"provider": "vertex", "model": "claude-sonnet-4-5"}]},
            "gemini-adc": {
                "deployments": [{"provider": "vertex-adc", "model": "gemini-2.5-flash"}]
            },
            "gemini-file": {
                "deployments": [{"provider": "vertex-file", "model": "gemini-2.5-flash"}]
            },
            "claude-failover": with_backup("vertex", "claude-sonnet-4-5"),
            "forged": with_backup("vertex-forged", "gemini-2.5-flash"),
        },
    }
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(cloud.account)}  # what ADC reads first
    proc = start_gateway(config, tmp, env=env, ready_within=60)
    yield proc
    proc.stop()


def _sa(path: Path) -> service_account.Credentials:
    load = service_account.Credentials.from_service_account_file
    creds: service_account.Credentials = load(str(path), scopes=[SCOPE])  # type: ignore[no-untyped-call]
    return creds


def _stats(cloud: Cloud) -> dict[str, int]:
    by_path: dict[str, int] = httpx.get(f"{cloud.url}/_mock/stats").json()["by_path"]
    return by_path


# -- the mock is Vertex: the clouds' own clients talk to it ---------------------------------------
def test_google_genai_in_vertex_mode_speaks_to_the_mock(cloud: Cloud) -> None:
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location="us-central1",
        credentials=_sa(cloud.account),
        http_options=types.HttpOptions(base_url=f"{cloud.url}/"),
    )
    assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text
    stream = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    assert "".join(c.text or "" for c in stream)


def test_anthropic_vertex_client_speaks_to_the_mock(cloud: Cloud) -> None:
    creds = _sa(cloud.account)
    creds.refresh(Request())  # type: ignore[no-untyped-call]
    client = anthropic.AnthropicVertex(
        project_id=PROJECT,
        region="us-east5",
        base_url=f"{cloud.url}/v1",
        access_token=creds.token,
        max_retries=0,
    )
    reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=32, messages=MESSAGES)
    assert reply.content[0].type == "text"
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=32, messages=MESSAGES
    ) as stream:
        assert "".join(stream.text_stream)


def test_a_forged_service_account_gets_no_token(cloud: Cloud) -> None:
    from google.auth import exceptions

    assert cloud.forged is not None
    with pytest.raises(exceptions.RefreshError):
        _sa(cloud.forged).refresh(Request())  # type: ignore[no-untyped-call]


# -- through the gateway ---------------------------------------------------------------------------
def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0)


def _gemini(gw: Proc) -> genai.Client:
    options = types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    return genai.Client(api_key="k", http_options=options)


def test_gemini_client_reaches_gemini_on_vertex(gw: Proc) -> None:
    client = _gemini(gw)
    reply = client.models.generate_content(model="gemini-vx", contents="hi")
    assert reply.text and reply.usage_metadata is not None
    stream = client.models.generate_content_stream(model="gemini-file", contents="hi")
    assert "".join(c.text or "" for c in stream)


def test_anthropic_client_reaches_claude_on_vertex(gw: Proc) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-vx", max_tokens=32, messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == "vertex/claude-sonnet-4-5"
    assert raw.parse().content[0].type == "text"
    with client.messages.stream(model="claude-vx", max_tokens=32, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream)
        assert stream.get_final_message().usage.output_tokens > 0


def test_openai_client_is_translated_to_both_publishers(gw: Proc) -> None:
    weather: Any = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    for model in ("gemini-vx", "claude-vx"):
        reply = _openai(gw).chat.completions.create(model=model, messages=MESSAGES)
        assert reply.choices[0].message.content
        stream = _openai(gw).chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Call get_weather for Paris"}],
            tools=[weather],
            stream=True,
        )
        calls = [t for c in stream if c.choices for t in c.choices[0].delta.tool_calls or []]
        assert calls and calls[0].function is not None
        assert calls[0].function.name == "get_weather"


def test_the_token_is_fetched_once_and_reused(gw: Proc, cloud: Cloud) -> None:
    _openai(gw).chat.completions.create(model="gemini-vx", messages=MESSAGES)  # warm
    before = _stats(cloud).get("/token", 0)
    for _ in range(3):
        _openai(gw).chat.completions.create(model="claude-vx", messages=MESSAGES)
    assert _stats(cloud).get("/token", 0) == before


def test_a_rate_limited_vertex_fails_over(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="claude-failover", messages=MESSAGES, extra_headers={"x-mock-status": "429"}
    )
    assert raw.headers["x-turnout-deployment"] == BACKUP


def test_a_forged_service_account_fails_over(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="forged", messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == BACKUP


def test_application_default_credentials(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="gemini-adc", messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == "vertex-adc/gemini-2.5-flash"

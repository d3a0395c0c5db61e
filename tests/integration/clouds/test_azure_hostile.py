"""Azure OpenAI as a hostile or strict upstream: its content-filter refusal reaches each client
(OpenAI, Anthropic, Gemini SDKs) as a 400 in the client's own error shape; the ``api-key`` the
gateway sent never comes back, echoed in an error or an answer; the deployment and the
api-version stay in their places in the URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.integration.clouds.conftest import requests_seen
from tests.support.procs import Proc, start_gateway

AZURE_KEY = "azure-resource-key-0123456789abcdef0123"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
DEPLOYMENT = "gpt 4o/mini?x=1#y"  # what a careless operator may name a deployment


@pytest.fixture(scope="module")
def gw(hostile: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {"max_attempts": 1},
        "providers": {
            "azure": {
                "type": "azure",
                "base_url": hostile.url + "/openai",
                "api_keys": [AZURE_KEY],
                "options": {"api_version": "2024-10-21"},
            },
        },
        "models": {
            "filtered": {"deployments": [{"provider": "azure", "model": "filtered"}]},
            "echo": {"deployments": [{"provider": "azure", "model": "echo"}]},
            "echo-ok": {"deployments": [{"provider": "azure", "model": "echo-ok"}]},
            "odd": {"deployments": [{"provider": "azure", "model": DEPLOYMENT}]},
        },
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("azure-hostile"), ready_within=60)
    yield proc
    proc.stop()


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0)


def test_a_content_filter_refusal_is_a_400_in_each_protocol(gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        _openai(gw).chat.completions.create(model="filtered", messages=MESSAGES)
    body: Any = refused.value.body
    assert body["code"] == "content_filter"
    claude = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="filtered", max_tokens=8, messages=MESSAGES)
    error: Any = caught.value.body
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    options = types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    gemini = genai.Client(api_key="k", http_options=options)
    with pytest.raises(genai_errors.ClientError) as failed:
        gemini.models.generate_content(model="filtered", contents="hi")
    assert failed.value.code == 400 and failed.value.status == "INVALID_ARGUMENT"


def test_the_api_key_is_never_echoed(gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(gw).chat.completions.create(model="echo", messages=MESSAGES)
    text = caught.value.response.text
    assert "api-key" in text and AZURE_KEY not in text
    reply = _openai(gw).chat.completions.create(model="echo-ok", messages=MESSAGES)
    content = reply.choices[0].message.content or ""
    assert "api-key" in content and AZURE_KEY not in content
    assert AZURE_KEY not in gw.output()


def test_a_deployment_name_stays_one_segment_before_the_api_version(
    gw: Proc, hostile: Proc
) -> None:
    _openai(gw).chat.completions.create(model="odd", messages=MESSAGES)
    path = requests_seen(hostile)[-1]["path"]
    route, _, query = path.partition("?")
    parts = route.split("/")
    assert parts[:3] == ["", "openai", "deployments"] and parts[4:] == ["chat", "completions"]
    assert unquote(parts[3]) == DEPLOYMENT
    assert query == "api-version=2024-10-21"

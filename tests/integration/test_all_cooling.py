"""Every deployment of a model cooling down: a fast 503 in the client's own protocol, with a
Retry-After the client can wait out (docs/routing.md, "What the client sees").

A real gateway over the mock, the three official SDKs. One failure ejects the model's only
deployment (``consecutive_failures: 1``); each SDK then gets the gateway's own 503, shaped as
its protocol's error, with an integer ``Retry-After`` no longer than the cooldown. On a
wildcard route only the model that failed cools down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.support.procs import Proc, mock_provider, start_gateway

COOLDOWN = 120
MESSAGES: Any = [{"role": "user", "content": "hi"}]
FAIL = {"x-mock-status": "500"}


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {
            "breaker": {"consecutive_failures": 1, "cooldown": COOLDOWN,
                        "max_cooldown": COOLDOWN},
        },
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "solo": {"deployments": [{"provider": "mock", "model": "solo-up"}]},
            "w-*": {"deployments": [{"provider": "mock", "model": "*"}]},
        },
    }  # fmt: skip
    proc = start_gateway(config, tmp_path_factory.mktemp("cooling"))
    yield proc
    proc.stop()


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=gw.url + "/v1", max_retries=0)


def _eject(gw: Proc, model: str) -> None:
    with pytest.raises(openai.InternalServerError):
        _openai(gw).chat.completions.create(
            model=model, messages=MESSAGES, max_tokens=2, extra_headers=FAIL
        )


def _retry_after(headers: Mapping[str, str]) -> int:
    value = int(headers["retry-after"])  # delay-seconds: digits only
    assert 1 <= value <= COOLDOWN
    return value


def test_openai_gets_its_error_shape_and_a_retry_after(gw: Proc) -> None:
    _eject(gw, "solo")
    with pytest.raises(openai.InternalServerError) as caught:
        _openai(gw).chat.completions.create(model="solo", messages=MESSAGES, max_tokens=2)
    resp = caught.value.response
    assert resp.status_code == 503
    _retry_after(resp.headers)
    error = resp.json()["error"]
    assert error["code"] == "no_healthy_deployment" and error["type"] == "api_error"


def test_anthropic_gets_its_error_shape_and_a_retry_after(gw: Proc) -> None:
    _eject(gw, "solo")
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="solo", messages=MESSAGES, max_tokens=2)
    resp = caught.value.response
    assert resp.status_code == 503
    _retry_after(resp.headers)
    body = resp.json()
    assert body["type"] == "error" and isinstance(body["error"]["type"], str)


def test_gemini_gets_its_error_shape_and_a_retry_after(gw: Proc) -> None:
    _eject(gw, "solo")
    client = genai.Client(
        api_key="k", http_options=gt.HttpOptions(base_url=gw.url, api_version="v1beta")
    )
    with pytest.raises(genai_errors.ServerError) as caught:
        client.models.generate_content(model="solo", contents="hi")
    assert caught.value.code == 503
    assert caught.value.status == "UNAVAILABLE"
    raw = httpx.post(
        gw.url + "/v1beta/models/solo:generateContent",
        headers={"x-goog-api-key": "k"},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert raw.status_code == 503
    _retry_after(raw.headers)
    assert raw.json()["error"]["status"] == "UNAVAILABLE"


def test_on_a_wildcard_route_only_the_failed_model_cools_down(gw: Proc) -> None:
    _eject(gw, "w-failed")
    with pytest.raises(openai.InternalServerError) as caught:
        _openai(gw).chat.completions.create(model="w-failed", messages=MESSAGES, max_tokens=2)
    assert caught.value.response.status_code == 503
    _retry_after(caught.value.response.headers)
    assert caught.value.response.json()["error"]["code"] == "no_healthy_deployment"
    answer = _openai(gw).chat.completions.create(model="w-other", messages=MESSAGES, max_tokens=2)
    assert answer.choices

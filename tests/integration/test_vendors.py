"""A named vendor type in a real gateway process, judged by the official SDKs: it serves and
translates like any OpenAI-compatible upstream, and its own error rules decide what happens
(Groq's 498 is an overload: fail over; the same answer from a plain openai-compatible upstream
is the client's answer). The mock provider plays the vendor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.support.procs import Proc, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hi"}]
OVERLOAD = {"x-mock-status": "498"}  # Groq's "flex tier capacity exceeded"


def _vendor(mock: Proc, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "base_url": f"{mock.url}/v1",
        "api_keys": ["sk-vendor-key-0001"],
        "forward_headers": ["x-mock-*"],
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("vendors")
    config = {
        "routing": {"backoff": {"base": 0, "max": 0}},
        "providers": {
            "groq": _vendor(mock, "groq"),
            "plain": _vendor(mock, "openai-compatible"),
            # A healthy backup that forwards no client header (x-mock-* stays with the first).
            "backup": {**_vendor(mock, "openai-compatible"), "forward_headers": []},
        },
        "models": {
            "fast": {
                "deployments": [
                    {"provider": "groq", "model": "llama-up", "priority": 0},
                    {"provider": "backup", "model": "backup-up", "priority": 1},
                ]
            },
            "plainfast": {
                "deployments": [
                    {"provider": "plain", "model": "llama-up", "priority": 0},
                    {"provider": "backup", "model": "backup-up", "priority": 1},
                ]
            },
            "embed": {"deployments": [{"provider": "groq", "model": "embed-up"}]},
        },
    }
    proc = start_gateway(config, tmp)
    yield proc
    proc.stop()


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0)


def test_openai_client_through_the_vendor(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="fast", messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == "groq/llama-up"
    assert raw.parse().choices[0].message.content


def test_anthropic_client_is_translated_to_the_vendor(gw: Proc) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    raw = client.messages.with_raw_response.create(model="fast", max_tokens=32, messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == "groq/llama-up"
    assert raw.parse().content[0].type == "text"


def test_the_vendors_overload_fails_over(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="fast", messages=MESSAGES, extra_headers=OVERLOAD
    )
    assert raw.headers["x-turnout-deployment"] == "backup/backup-up"
    assert int(raw.headers["x-turnout-attempts"]) >= 2


def test_an_untyped_upstream_returns_the_same_answer_to_the_client(gw: Proc) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(gw).chat.completions.create(
            model="plainfast", messages=MESSAGES, extra_headers=OVERLOAD
        )
    assert caught.value.status_code == 498
    assert caught.value.response.headers["x-turnout-deployment"] == "plain/llama-up"


def test_an_operation_the_vendor_does_not_serve_is_refused_in_the_clients_shape(
    gw: Proc,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(gw).embeddings.create(model="embed", input="hi")
    assert "does not serve 'embeddings'" in str(caught.value)

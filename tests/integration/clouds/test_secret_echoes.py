"""The credentials a cloud provider puts on the wire never come back to a client, even from an
upstream that quotes the request it was sent: Vertex AI's and Entra ID's bearer tokens (the
Bedrock session token: test_hostile_bedrock.py), in an error and in a 200 answer, through the
official SDKs; and a token endpoint that is down, answers garbage or quotes the request is a
502 that names neither the credential nor what the endpoint echoed. The gateway's log never
holds a token either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.integration.clouds.conftest import requests_seen
from tests.integration.clouds.hostile import TOKEN
from tests.support.clouds import account_file, rsa_key
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

CLIENT_SECRET = "entra-client-secret-0123456789abcdef"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("echoes")


@pytest.fixture(scope="module")
def gw(hostile: Proc, tmp: Path) -> Iterator[Proc]:
    key = rsa_key()

    def vertex(token_path: str) -> dict[str, Any]:
        account = account_file(tmp / f"sa{token_path.replace('/', '-')}.json", key,
                               hostile.url + token_path)  # fmt: skip
        return {
            "type": "vertex",
            "base_url": hostile.url,
            "api_keys": [str(account)],
            "options": {"project": "proj-1", "location": "us-east5"},
        }

    entra = {"tenant_id": "tenant-1", "client_id": "app-1", "authority": hostile.url}
    config = {
        "capture": {"enabled": True, "dir": str(tmp / "captures")},
        "routing": {"max_attempts": 1, "backoff": {"base": 0, "max": 0}},
        "providers": {
            "vertex": vertex("/token"),
            "vertex-garbage": vertex("/token-garbage"),
            "vertex-echo": vertex("/token-echo"),
            "vertex-crlf": vertex("/token-crlf"),
            "vertex-number": vertex("/token-number"),
            "vertex-overflow": vertex("/token-overflow"),
            "vertex-hang": {**vertex("/token-hang"), "timeouts": {"connect": 2, "read": 2}},
            "vertex-huge": vertex("/token-huge"),
            "vertex-list": vertex("/token-list"),
            "azure-crlf": {
                "type": "azure",
                "base_url": hostile.url,
                "api_keys": [CLIENT_SECRET],
                "options": {"entra": {**entra, "tenant_id": "token-crlf"}},
            },
            "azure-garbage": {
                "type": "azure",
                "base_url": hostile.url,
                "api_keys": [CLIENT_SECRET],
                "options": {"entra": {**entra, "tenant_id": "token-garbage"}},
            },
            "azure": {
                "type": "azure",
                "base_url": hostile.url,
                "api_keys": [CLIENT_SECRET],
                "options": {"entra": entra},
            },
        },
        "models": {
            "v-echo": {"deployments": [{"provider": "vertex", "model": "echo"}]},
            "v-echo-ok": {"deployments": [{"provider": "vertex", "model": "echo-ok"}]},
            "claude-echo": {"deployments": [{"provider": "vertex", "model": "claude-echo"}]},
            "v-garbage": {"deployments": [{"provider": "vertex-garbage", "model": "gemini"}]},
            "v-token-echo": {"deployments": [{"provider": "vertex-echo", "model": "gemini"}]},
            "v-token-crlf": {"deployments": [{"provider": "vertex-crlf", "model": "gemini"}]},
            "v-token-number": {"deployments": [{"provider": "vertex-number", "model": "gemini"}]},
            "v-token-overflow": {
                "deployments": [{"provider": "vertex-overflow", "model": "gemini"}]
            },
            "v-token-hang": {"deployments": [{"provider": "vertex-hang", "model": "gemini"}]},
            "v-token-list": {"deployments": [{"provider": "vertex-list", "model": "gemini"}]},
            "v-token-huge": {"deployments": [{"provider": "vertex-huge", "model": "gemini"}]},
            "a-token-crlf": {"deployments": [{"provider": "azure-crlf", "model": "x"}]},
            "a-token-garbage": {"deployments": [{"provider": "azure-garbage", "model": "x"}]},
            "a-echo": {"deployments": [{"provider": "azure", "model": "echo"}]},
            "a-echo-ok": {"deployments": [{"provider": "azure", "model": "echo-ok"}]},
        },
    }
    proc = start_gateway(config, tmp, ready_within=60)
    yield proc
    proc.stop()


def _gemini(gw: Proc) -> genai.Client:
    # A refresh that hangs shows as this timeout (60 s; google-auth's own was 120 s).
    options = types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta", timeout=60_000)
    return genai.Client(api_key="k", http_options=options)


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0)


def test_vertex_bearer_token_is_masked_in_an_echoed_error(gw: Proc) -> None:
    client = _gemini(gw)  # kept: a collected client closes its connections
    with pytest.raises(genai_errors.APIError) as caught:
        client.models.generate_content(model="v-echo", contents="hi")
    text = str(caught.value)
    assert "You sent" in text and "Bearer" in text
    assert TOKEN not in text
    claude = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as refused:
        claude.messages.create(model="claude-echo", max_tokens=8, messages=MESSAGES)
    assert "Bearer" in refused.value.response.text
    assert TOKEN not in refused.value.response.text


def test_vertex_bearer_token_is_masked_in_an_echoed_answer(gw: Proc) -> None:
    client = _gemini(gw)
    text = client.models.generate_content(model="v-echo-ok", contents="hi").text or ""
    assert "Bearer" in text and TOKEN not in text
    stream = client.models.generate_content_stream(model="v-echo-ok", contents="hi")
    streamed = "".join(c.text or "" for c in stream)
    assert "Bearer" in streamed and TOKEN not in streamed


def test_entra_bearer_token_is_masked(gw: Proc) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(gw).chat.completions.create(model="a-echo", messages=MESSAGES)
    text = caught.value.response.text
    assert "You sent" in text and "Bearer" in text and TOKEN not in text
    reply = _openai(gw).chat.completions.create(model="a-echo-ok", messages=MESSAGES)
    content = reply.choices[0].message.content or ""
    assert "Bearer" in content and TOKEN not in content


@pytest.mark.parametrize(
    "model",
    [
        "v-garbage",
        "v-token-echo",
        "v-token-crlf",
        "v-token-number",
        "v-token-overflow",
        "v-token-hang",  # before: google-auth waited 120 s for it, whatever the provider's timeouts
        "v-token-huge",  # before: read whole into memory, without end
        "v-token-list",  # before: google-auth's TypeError, a 500
    ],
)
def test_a_broken_token_endpoint_is_a_502_that_quotes_nothing(gw: Proc, model: str) -> None:
    client = _gemini(gw)
    with pytest.raises(genai_errors.APIError) as caught:
        client.models.generate_content(model=model, contents="hi")
    assert caught.value.code == 502
    text = str(caught.value)
    # Neither the signed assertion the gateway sent nor the endpoint's page reach the client.
    assert "assertion" not in text and "eyJ" not in text and "<html>" not in text


@pytest.mark.parametrize("model", ["a-token-crlf", "a-token-garbage"])
def test_a_broken_entra_endpoint_is_a_502(gw: Proc, hostile: Proc, model: str) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(gw).chat.completions.create(model=model, messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "<html>" not in caught.value.response.text
    # The CR LF the endpoint put in its token never became a request header upstream.
    assert not any("x-injected" in r["head"] for r in requests_seen(hostile))


def test_no_token_in_the_gateway_log_or_its_captures(gw: Proc, tmp: Path) -> None:
    reply = _openai(gw).chat.completions.create(model="a-echo-ok", messages=MESSAGES)
    assert "Bearer" in (reply.choices[0].message.content or "")
    log = gw.output()
    assert TOKEN not in log and CLIENT_SECRET not in log
    captured: list[str] = []

    def echo_captured() -> bool:
        captured[:] = [p.read_text() for p in (tmp / "captures").rglob("*") if p.is_file()]
        return any("Bearer" in text for text in captured)

    until(echo_captured)  # the capture of the echoed answer is written
    assert not any(TOKEN in text or CLIENT_SECRET in text for text in captured)


def test_requests_waiting_on_a_hung_token_endpoint_share_one_fetch(gw: Proc, hostile: Proc) -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = sum(r["path"] == "/token-hang" for r in requests_seen(hostile))

    def one(_: int) -> int | None:
        client = _gemini(gw)
        try:
            client.models.generate_content(model="v-token-hang", contents="hi")
        except genai_errors.APIError as exc:
            return exc.code
        return None

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(one, range(4)))
    assert codes == [502] * 4
    fetched = sum(r["path"] == "/token-hang" for r in requests_seen(hostile)) - before
    # One fetch for the burst (four before: each waiter fetched in turn after the last failed,
    # the fourth request waiting four read timeouts).
    assert fetched <= 2, fetched

"""Anthropic and Gemini providers: URLs, auth, header passthrough, untouched native bodies."""

from __future__ import annotations

import pytest
from tests.unit.providers.fakes import FakeClient, FakeResponse, call, deployment, provider

ANTHROPIC_BODY = {"model": "pub", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CLIENT_CREDENTIALS = {
    b"authorization": b"Bearer client-key",
    b"x-api-key": b"client-key",
    b"x-goog-api-key": b"client-key",
}


async def test_anthropic_auth_version_and_betas() -> None:
    client = FakeClient(FakeResponse(body=b"{}"), FakeResponse(body=b"{}"))
    p = provider("anthropic", client, forward=("*",))
    await p.send(call("anthropic", ANTHROPIC_BODY), deployment(), "sk-up")
    headers = {
        b"anthropic-version": b"2026-10-21",
        b"anthropic-beta": b"interleaved-thinking-2025-05-14",
        **CLIENT_CREDENTIALS,
    }
    await p.send(call("anthropic", ANTHROPIC_BODY, headers=headers), deployment(), "sk-up")
    default, passthrough = client.sent
    assert default.url == passthrough.url == "http://up.test/v1/messages"
    assert default.header("anthropic-version") == ["2023-06-01"]
    assert passthrough.header("anthropic-version") == ["2026-10-21"]
    assert passthrough.header("anthropic-beta") == ["interleaved-thinking-2025-05-14"]
    # forward_headers "*" still never relays the client's own credentials.
    for sent in client.sent:
        assert sent.header("x-api-key") == ["sk-up"]
        assert sent.header("authorization") == sent.header("x-goog-api-key") == []


async def test_anthropic_count_tokens_path_and_model_rename() -> None:
    client = FakeClient(FakeResponse(body=b'{"input_tokens": 3}'))
    p = provider("anthropic", client)
    body = {"model": "pub", "messages": [{"role": "user", "content": "hi"}]}
    reply = await p.send(call("anthropic", body, operation="count_tokens"), deployment(), "k")
    assert client.sent[0].url == "http://up.test/v1/messages/count_tokens"
    assert client.sent[0].json["model"] == "up-model"
    assert reply.body == b'{"input_tokens": 3}'


GM = "/v1beta/models/"
STREAM = "streamGenerateContent"


@pytest.mark.parametrize(
    ("path", "query", "stream", "url"),
    [
        (GM + "pub:generateContent", b"key=secret", False, GM + "up-model:generateContent"),
        (GM + f"pub:{STREAM}", b"alt=sse&key=secret", True, GM + f"up-model:{STREAM}?alt=sse"),
        (GM + f"pub:{STREAM}", b"key=secret", True, GM + f"up-model:{STREAM}"),
        ("/v1/models/pub:generateContent", b"", False, "/v1/models/up-model:generateContent"),
    ],
)
async def test_gemini_urls_keep_version_and_framing_drop_key(
    path: str, query: bytes, stream: bool, url: str
) -> None:
    client = FakeClient(FakeResponse(chunks=[b"x"]) if stream else FakeResponse(body=b"{}"))
    p = provider("gemini", client, forward=("*",))
    c = call("gemini", GEMINI_BODY, stream=stream, path=path, query=query)
    c.headers = CLIENT_CREDENTIALS
    await p.send(c, deployment(), "sk-up")
    sent = client.sent[0]
    assert sent.url == "http://up.test" + url
    assert "secret" not in sent.url
    assert sent.header("x-goog-api-key") == ["sk-up"]
    assert sent.header("authorization") == sent.header("x-api-key") == []
    assert sent.body is c.body  # the model is in the URL: the client's bytes go as they came


async def test_gemini_model_named_inside_count_and_embed_bodies() -> None:
    client = FakeClient(FakeResponse(body=b"{}"), FakeResponse(body=b"{}"))
    p = provider("gemini", client)
    count = {
        "generateContentRequest": {
            "model": "models/pub",
            "contents": [{"parts": [{"functionCall": {"name": "f", "args": {"model": "keep"}}}]}],
        }
    }
    await p.send(call("gemini", count, operation="countTokens"), deployment(), "k")
    batch = {"requests": [{"model": "models/pub", "content": {"parts": [{"text": "x"}]}}]}
    await p.send(call("gemini", batch, operation="batchEmbedContents"), deployment(), "k")
    inner = client.sent[0].json["generateContentRequest"]
    assert inner["model"] == "models/up-model"
    assert inner["contents"][0]["parts"][0]["functionCall"]["args"] == {"model": "keep"}
    assert client.sent[0].url.endswith("/v1beta/models/up-model:countTokens")
    assert client.sent[1].json["requests"][0]["model"] == "models/up-model"


async def test_same_protocol_stays_bytes() -> None:
    """No IR on the diagonal: the upstream body is the client's own bytes object."""
    client = FakeClient(FakeResponse(body=b'{"anything": 1}'))
    p = provider("anthropic", client)
    c = call("anthropic", {**ANTHROPIC_BODY, "model": "up-model", "vendor_field": [1, 2]})
    reply = await p.send(c, deployment(), "k")
    assert client.sent[0].body is c.body
    assert reply.body == b'{"anything": 1}'
    assert c.ir is None and c.usage is None


def test_registry_names_every_provider_type() -> None:
    from turnout.protocols.registry import PROTOCOLS
    from turnout.providers.registry import names, provider_type

    for name in names():
        kind = provider_type(name)
        assert kind.name == name and kind.protocol in PROTOCOLS

"""The Anthropic and Gemini surfaces beyond the scenario matrix: token counting, embeddings,
untranslatable requests, unknown routes, Gemini's key and framing options, cut upstream streams
and incremental delivery, judged by the official SDKs where they have a call for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.conformance.clients import CLIENTS, AnthropicClient, Client, GeminiClient, OpenAIClient
from tests.conformance.conftest import AUTH_STYLE, PROVIDER_TYPES, model_for
from tests.support.procs import Proc

GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture(scope="module")
def sdk(gw: Proc) -> Iterator[dict[str, Client]]:
    yield {name: cls(gw.url) for name, cls in CLIENTS.items()}


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
def test_anthropic_count_tokens(sdk: dict[str, Client], provider: str) -> None:
    client = sdk["anthropic"]
    assert isinstance(client, AnthropicClient)
    raw = client.sdk.messages.with_raw_response.count_tokens(
        model=model_for(provider),
        system="Be brief.",
        messages=[{"role": "user", "content": "How many tokens is this?"}],
    )
    assert raw.parse().input_tokens > 0
    estimated = raw.headers.get("x-turnout-token-count") == "estimated"
    assert estimated == (provider == "openai")  # OpenAI has no counting endpoint


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
def test_gemini_count_tokens(sdk: dict[str, Client], provider: str) -> None:
    client = sdk["gemini"]
    assert isinstance(client, GeminiClient)
    result = client.sdk.models.count_tokens(model=model_for(provider), contents="How many?")
    assert result.total_tokens is not None and result.total_tokens > 0


def test_gemini_embeddings_pass_through_and_refuse_translation(sdk: dict[str, Client]) -> None:
    client = sdk["gemini"]
    assert isinstance(client, GeminiClient)
    result = client.sdk.models.embed_content(model=model_for("gemini"), contents="hello")
    assert result.embeddings and result.embeddings[0].values
    with pytest.raises(genai_errors.ClientError) as info:
        client.sdk.models.embed_content(model=model_for("anthropic"), contents="hello")
    assert info.value.code == 400 and "cannot be translated" in str(info.value.message)


@pytest.mark.parametrize("dims", [None, 5])
def test_gemini_embeddings_translated_to_openai(sdk: dict[str, Client], dims: int | None) -> None:
    """google-genai's embed_content to an OpenAI-compatible deployment: the same vectors (the
    mock derives them from the text alone) as the Gemini passthrough, in the SDK's own types."""
    client = sdk["gemini"]
    assert isinstance(client, GeminiClient)
    config = gt.EmbedContentConfig(output_dimensionality=dims, task_type="RETRIEVAL_DOCUMENT")
    texts = ["hello", "world", "again"]
    batch: list[gt.ContentUnion] = [*texts]
    translated = client.sdk.models.embed_content(
        model=model_for("openai"), contents=batch, config=config
    )
    assert translated.embeddings is not None and len(translated.embeddings) == len(texts)
    for text, got in zip(texts, translated.embeddings, strict=True):
        # One text at a time: the SDK sends a list to a "gemini" model as one multi-part content.
        native = client.sdk.models.embed_content(
            model=model_for("gemini"), contents=text, config=config
        )
        assert native.embeddings is not None
        assert got.values == native.embeddings[0].values
        assert len(got.values or []) == (dims or 8)


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_gemini_embed_content_translated_raw(gw: Proc, version: str) -> None:
    url = f"{gw.url}/{version}/models/{model_for('openai')}:embedContent"
    r = httpx.post(url, json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()["embedding"]["values"]) == 3
    assert r.headers["x-mock-endpoint"].endswith("embeddings")


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("embedContent", {"content": "hello"}),
        ("embedContent", {"content": {"parts": [{"text": 5}]}}),
        ("embedContent", {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": "9"}),
        ("embedContent", {"content": {"parts": [{"inlineData": {"data": "AA=="}}]}}),
        ("batchEmbedContents", {"requests": "hello"}),
        ("batchEmbedContents", {"requests": [None]}),
    ],
)
def test_gemini_embeddings_hostile_shapes_are_gemini_400s(
    gw: Proc, action: str, body: dict[str, Any]
) -> None:
    r = httpx.post(f"{gw.url}/v1beta/models/{model_for('openai')}:{action}", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"


def test_gemini_embeddings_upstream_error_in_gemini_shape(gw: Proc) -> None:
    r = httpx.post(
        f"{gw.url}/v1beta/models/{model_for('openai')}:embedContent",
        json={"content": {"parts": [{"text": "hello"}]}},
        headers={"x-mock-status": "429", "x-mock-retry-after": "0"},
    )
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == 429 and error["status"] == "RESOURCE_EXHAUSTED"


def test_untranslatable_fields_are_400s_naming_them(sdk: dict[str, Client]) -> None:
    oa, an, gm = sdk["openai"], sdk["anthropic"], sdk["gemini"]
    assert isinstance(oa, OpenAIClient)
    assert isinstance(an, AnthropicClient)
    assert isinstance(gm, GeminiClient)
    with pytest.raises(openai.BadRequestError) as oa_info:
        oa.sdk.chat.completions.create(
            model=model_for("anthropic"), messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert oa_info.value.param == "n"
    with pytest.raises(anthropic.BadRequestError) as an_info:
        an.sdk.messages.create(
            model=model_for("openai"),
            max_tokens=10,
            extra_body={"top_k": 5},  # no longer a typed argument in SDK 2.x
            messages=[{"role": "user", "content": "hi"}],
        )
    assert "top_k" in an_info.value.message
    with pytest.raises(genai_errors.ClientError) as gm_info:
        gm.sdk.models.generate_content(
            model=model_for("openai"),
            contents="hi",
            config=gt.GenerateContentConfig(candidate_count=2),
        )
    assert gm_info.value.code == 400
    assert "generationConfig.candidateCount" in str(gm_info.value.message)


def test_unknown_models_are_404s_in_each_sdk(sdk: dict[str, Client]) -> None:
    oa, an, gm = sdk["openai"], sdk["anthropic"], sdk["gemini"]
    assert isinstance(oa, OpenAIClient)
    assert isinstance(an, AnthropicClient)
    assert isinstance(gm, GeminiClient)
    with pytest.raises(anthropic.NotFoundError):
        an.sdk.messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(genai_errors.ClientError) as info:
        gm.sdk.models.generate_content(model="nope", contents="hi")
    assert info.value.code == 404


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        ("POST", "/v1/messages/drafts", "anthropic"),
        ("POST", "/v1beta/models/m-gemini:predict", "gemini"),
        ("GET", "/v1beta/cachedContents", "gemini"),
        ("POST", "/v1/models/m-gemini:generateAnswer", "gemini"),
        ("POST", "/v2/chat", "openai"),
    ],
)
def test_unknown_routes_404_in_their_protocol(gw: Proc, method: str, path: str, shape: str) -> None:
    r = httpx.request(method, gw.url + path, json={})
    assert r.status_code == 404
    body = r.json()
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    elif shape == "gemini":
        assert body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND"
    else:
        assert body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_gemini_query_key_never_reaches_upstream(gw: Proc, provider: str, version: str) -> None:
    url = f"{gw.url}/{version}/models/{model_for(provider)}:generateContent?key=client-secret"
    r = httpx.post(url, json=GEMINI_BODY)
    assert r.status_code == 200, r.text
    assert r.headers["x-mock-auth"] == AUTH_STYLE[provider]


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
def test_anthropic_accepts_either_auth_header(gw: Proc, provider: str) -> None:
    body = {
        "model": model_for(provider),
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    }
    for auth in ({"x-api-key": "k"}, {"authorization": "Bearer k"}):
        r = httpx.post(
            gw.url + "/v1/messages", json=body, headers={**auth, "anthropic-version": "2026-10-21"}
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-mock-auth"] == AUTH_STYLE[provider]


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
def test_gemini_stream_without_alt_sse_is_a_json_array(gw: Proc, provider: str) -> None:
    url = f"{gw.url}/v1beta/models/{model_for(provider)}:streamGenerateContent"
    r = httpx.post(url, json=GEMINI_BODY, headers={"x-mock-tokens": "3"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    items = json.loads(r.text)
    parts = [p for item in items for p in item["candidates"][0]["content"]["parts"]]
    assert "".join(p.get("text", "") for p in parts) == "Lorem ipsum dolor"
    assert items[-1]["candidates"][0]["finishReason"] == "STOP"


# A stream that ends cleanly but early (the mock drops its last frame). The client must see an
# error wherever the gateway can tell: translated streams are parsed, so a missing
# message_stop / finishReason is caught; on the diagonal only the terminator check of OpenAI
# ([DONE]) and Anthropic (message_stop) applies. An OpenAI upstream's last frame is [DONE],
# after its finish_reason and usage: translated, that stream is complete.
CUT_IS_ERROR = {
    (c, p): not (p == "openai" and c != "openai") and (c, p) != ("gemini", "gemini")
    for c in CLIENTS
    for p in PROVIDER_TYPES
}


@pytest.mark.parametrize(("client_name", "provider"), list(CUT_IS_ERROR))
def test_stream_ended_early(sdk: dict[str, Client], client_name: str, provider: str) -> None:
    client = sdk[client_name]
    headers = {"x-mock-fault": "truncate"}
    if not CUT_IS_ERROR[(client_name, provider)]:
        answer = client.ask(model_for(provider), stream=True, tokens=6, headers=headers)
        if provider == "openai":
            assert answer.finish == client.stop and answer.output_tokens == 6
        else:  # Gemini passthrough: bytes are not parsed, the last chunk is simply missing
            assert answer.finish is None
        return
    with pytest.raises(Exception) as info:
        client.ask(model_for(provider), stream=True, tokens=6, headers=headers)
    assert client.in_band_error(info.value), repr(info.value)


CROSS = [(c, p) for c in CLIENTS for p in PROVIDER_TYPES if c != p]
HI = [{"role": "user", "content": "hi"}]
STREAM_REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": ("/v1/chat/completions", {"messages": HI, "stream": True}),
    "anthropic": ("/v1/messages", {"messages": HI, "max_tokens": 50, "stream": True}),
    "gemini": ("/v1beta/models/{model}:streamGenerateContent?alt=sse", GEMINI_BODY),
}


@pytest.mark.parametrize(("client_name", "provider"), CROSS)
def test_translated_stream_is_incremental(gw: Proc, client_name: str, provider: str) -> None:
    """Each upstream event reaches the client when it happens, not when the stream ends.

    The upstream paces a long stream (200 frames, 0.8 s apart: minutes in all); the first text
    must arrive while it is still running, and the client then leaves. A gateway that held the
    stream back would deliver nothing before the end, and the test would run into its timeout.
    Nothing here is timed."""
    model = model_for(provider)
    path, body = STREAM_REQUESTS[client_name]
    headers = {"x-mock-tokens": "200", "x-mock-chunk-ms": "800"}
    seen = b""
    with httpx.stream(
        "POST",
        gw.url + path.format(model=model),
        json={**body, "model": model},
        headers=headers,
        timeout=httpx.Timeout(10.0, read=100.0),
    ) as r:
        for chunk in r.iter_raw():
            seen += chunk
            if b"Lorem" in seen:
                break
    assert b"Lorem" in seen, seen[-300:]

"""The cross-protocol attempt: request, response, errors, usage and streams in the client's
dialect, and streams translated chunk by chunk."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.unit.providers.fakes import (
    FakeClient,
    FakeResponse,
    call,
    deployment,
    provider,
    sse,
)

from turnout.errors import (
    GatewayError,
    TranslationUnsupported,
    UpstreamUnavailable,
    stream_error_frame,
)
from turnout.types import Usage

OPENAI_BODY = {"model": "pub", "messages": [{"role": "user", "content": "hi"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
ANTHROPIC_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "up-model",
    "content": [{"type": "text", "text": "Hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 4},
}


def _anthropic_stream(*texts: str, stop: bool = True) -> list[bytes]:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {**ANTHROPIC_ANSWER, "content": [], "stop_reason": None},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
        for t in texts
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": len(texts)},
        },
    ]
    if stop:
        events.append({"type": "message_stop"})
    return sse(*events, events=True)


async def test_openai_client_anthropic_upstream_once() -> None:
    client = FakeClient(
        FakeResponse(
            body=orjson.dumps(ANTHROPIC_ANSWER),
            headers=[(b"content-type", b"application/json"), (b"request-id", b"req_1")],
        )
    )
    c = call("openai", OPENAI_BODY, headers={b"authorization": b"Bearer client"})
    reply = await provider("anthropic", client).send(c, deployment(), "sk-up")
    sent = client.sent[0]
    assert sent.url == "http://up.test/v1/messages"
    assert sent.json == {
        "model": "up-model",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert sent.header("x-api-key") == ["sk-up"] and sent.header("authorization") == []
    body = orjson.loads(reply.body)
    assert body["object"] == "chat.completion" and body["model"] == "pub"
    assert body["choices"][0]["message"]["content"] == "Hello"
    assert body["usage"]["prompt_tokens"] == 11  # Anthropic's 7 fresh + 4 cached
    assert (b"content-type", b"application/json") in reply.headers
    assert (b"request-id", b"req_1") in reply.headers
    assert c.usage == Usage(input_tokens=11, output_tokens=3, cached_tokens=4)


async def test_request_translated_once_per_call() -> None:
    """A failover attempt reuses the IR, and translating does not alter it."""
    client = FakeClient(*(FakeResponse(body=orjson.dumps(ANTHROPIC_ANSWER)) for _ in range(2)))
    p = provider("anthropic", client)
    c = call("openai", {**OPENAI_BODY, "tools": [{"type": "function", "function": {"name": "f"}}]})
    await p.send(c, deployment(), "k")
    ir = c.ir
    await p.send(c, deployment(), "k")
    assert c.ir is ir
    assert client.sent[0].body == client.sent[1].body


@pytest.mark.parametrize(
    ("client_protocol", "data", "upstream", "param"),
    [
        ("openai", {**OPENAI_BODY, "n": 2}, "anthropic", "n"),
        ("anthropic", {**OPENAI_BODY, "max_tokens": 5, "top_k": 3}, "openai-compatible", "top_k"),
        (
            "gemini",
            {**GEMINI_BODY, "generationConfig": {"candidateCount": 2}},
            "openai-compatible",
            "generationConfig.candidateCount",
        ),
        ("gemini", {**GEMINI_BODY, "tools": [{"googleSearch": {}}]}, "anthropic", "tools[0]"),
    ],
)
async def test_untranslatable_field_is_a_400_naming_it(
    client_protocol: str, data: dict[str, Any], upstream: str, param: str
) -> None:
    client = FakeClient()
    with pytest.raises(TranslationUnsupported) as info:
        await provider(upstream, client).send(call(client_protocol, data), deployment(), "k")
    assert info.value.status == 400
    assert info.value.param == param and param in info.value.message
    assert client.sent == []  # refused before anything left the gateway


@pytest.mark.parametrize(
    ("upstream", "status", "body", "client_protocol", "want_status", "check"),
    [
        (
            "anthropic",
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            "openai",
            429,
            lambda b: b["error"]["type"] == "rate_limit_error",
        ),
        (
            "anthropic",
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            "gemini",
            503,
            lambda b: b["error"]["status"] == "UNAVAILABLE",
        ),
        (
            "gemini",
            503,
            {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
            "anthropic",
            503,
            lambda b: b["error"]["type"] == "overloaded_error",
        ),
        (
            "openai-compatible",
            400,
            {"error": {"message": "bad", "type": "invalid_request_error", "param": "x"}},
            "anthropic",
            400,
            lambda b: b["error"]["type"] == "invalid_request_error",
        ),
    ],
)
async def test_upstream_error_in_client_dialect(
    upstream: str,
    status: int,
    body: dict[str, Any],
    client_protocol: str,
    want_status: int,
    check: Any,
) -> None:
    headers = [(b"retry-after", b"3"), (b"content-type", b"application/json")]
    client = FakeClient(FakeResponse(status, orjson.dumps(body), headers=headers))
    data = GEMINI_BODY if client_protocol == "gemini" else {**OPENAI_BODY, "max_tokens": 5}
    reply = await provider(upstream, client).send(call(client_protocol, data), deployment(), "k")
    out = orjson.loads(reply.body)
    assert reply.status == want_status
    assert check(out)
    assert body_message(body) in orjson.dumps(out).decode()
    assert (b"retry-after", b"3") in reply.headers


def body_message(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def test_malformed_upstream_body_is_upstream_failure() -> None:
    client = FakeClient(FakeResponse(body=b"<html>oops</html>"))
    with pytest.raises(UpstreamUnavailable):
        await provider("anthropic", client).send(call("openai", OPENAI_BODY), deployment(), "k")


async def _drain(chunks: Any) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_stream_is_translated_chunk_by_chunk() -> None:
    upstream = FakeResponse(chunks=_anthropic_stream("Hel", "lo"))
    client = FakeClient(upstream)
    c = call("openai", {**OPENAI_BODY, "stream": True}, stream=True)
    reply = await provider("anthropic", client).send(c, deployment(), "k")
    assert (b"content-type", b"text/event-stream") in reply.headers
    assert reply.chunks is not None
    first = await anext(reply.chunks)
    # message_start alone yields the role chunk: one upstream frame in, its bytes out.
    assert upstream.pulled == 1
    assert b'"role":"assistant"' in first
    rest = await _drain(reply.chunks)
    text = b"".join(rest)
    assert b'"content":"Hel"' in text and b'"content":"lo"' in text
    assert text.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' not in text  # the client did not ask for include_usage
    assert c.usage == Usage(input_tokens=11, output_tokens=2, cached_tokens=4)
    sent = client.sent[0].json
    assert sent["stream"] is True


async def test_stream_include_usage_reaches_openai_client() -> None:
    client = FakeClient(FakeResponse(chunks=_anthropic_stream("a")))
    data = {**OPENAI_BODY, "stream": True, "stream_options": {"include_usage": True}}
    reply = await provider("anthropic", client).send(
        call("openai", data, stream=True), deployment(), "k"
    )
    frames = b"".join(await _drain(reply.chunks)).split(b"\n\n")
    usage_frame = orjson.loads(frames[-3][6:])
    assert usage_frame["choices"] == [] and usage_frame["usage"]["completion_tokens"] == 1


async def test_stream_cut_upstream_raises_after_content() -> None:
    client = FakeClient(FakeResponse(chunks=_anthropic_stream("partial", stop=False)))
    reply = await provider("anthropic", client).send(
        call("gemini", GEMINI_BODY, stream=True), deployment(), "k"
    )
    got: list[bytes] = []
    with pytest.raises(GatewayError) as info:
        async for chunk in reply.chunks:
            got.append(chunk)
    assert info.value.status == 502 and "message_stop" in info.value.message
    assert b"partial" in b"".join(got)
    assert b"finishReason" not in b"".join(got)  # no clean ending was written


async def test_stream_error_event_keeps_its_status() -> None:
    events = sse(
        {"type": "message_start", "message": {**ANTHROPIC_ANSWER, "content": []}},
        {"type": "error", "error": {"type": "rate_limit_error", "message": "later"}},
        events=True,
    )
    client = FakeClient(FakeResponse(chunks=events))
    reply = await provider("anthropic", client).send(
        call("openai", {**OPENAI_BODY, "stream": True}, stream=True), deployment(), "k"
    )
    with pytest.raises(GatewayError) as info:
        await _drain(reply.chunks)
    assert info.value.status == 429 and "later" in info.value.message


async def test_gemini_stream_without_alt_sse_is_a_json_array() -> None:
    client = FakeClient(FakeResponse(chunks=_anthropic_stream("a", "b")))
    c = call("gemini", GEMINI_BODY, stream=True, query=b"key=secret")
    reply = await provider("anthropic", client).send(c, deployment(), "k")
    assert (b"content-type", b"application/json") in reply.headers
    items = orjson.loads(b"".join(await _drain(reply.chunks)))
    texts = [p.get("text") for i in items for p in i["candidates"][0]["content"]["parts"]]
    assert "".join(t or "" for t in texts) == "ab"
    assert items[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_upstream_stream_always_sse() -> None:
    frame = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1},
    }
    client = FakeClient(FakeResponse(chunks=[b"data: " + orjson.dumps(frame) + b"\r\n\r\n"]))
    c = call("anthropic", {**OPENAI_BODY, "max_tokens": 5, "stream": True}, stream=True)
    reply = await provider("gemini", client).send(c, deployment(), "k")
    out = b"".join(await _drain(reply.chunks))
    assert client.sent[0].url.endswith("/v1beta/models/up-model:streamGenerateContent?alt=sse")
    assert out.startswith(b"event: message_start") and out.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert c.usage == Usage(input_tokens=2, output_tokens=1)


async def test_count_tokens_across_protocols() -> None:
    client = FakeClient(FakeResponse(body=b'{"totalTokens": 12}'))
    data = {"model": "pub", "system": "be brief", "messages": [{"role": "user", "content": "hi"}]}
    c = call("anthropic", data, operation="count_tokens")
    reply = await provider("gemini", client).send(c, deployment(), "k")
    assert orjson.loads(reply.body) == {"input_tokens": 12}
    sent = client.sent[0]
    assert sent.url.endswith("/v1beta/models/up-model:countTokens")
    inner = sent.json["generateContentRequest"]
    assert inner["model"] == "models/up-model"
    assert inner["systemInstruction"] == {"parts": [{"text": "be brief"}]}

    client = FakeClient(FakeResponse(body=b'{"input_tokens": 9}'))
    c = call("gemini", {"generateContentRequest": GEMINI_BODY}, operation="countTokens")
    reply = await provider("anthropic", client).send(c, deployment(), "k")
    assert orjson.loads(reply.body) == {"totalTokens": 9}
    assert client.sent[0].url.endswith("/v1/messages/count_tokens")
    assert set(client.sent[0].json) == {"model", "messages"}


async def test_count_tokens_toward_openai_is_an_estimate() -> None:
    client = FakeClient()
    c = call("gemini", GEMINI_BODY, operation="countTokens")
    reply = await provider("openai-compatible", client).send(c, deployment(), "k")
    assert client.sent == []
    assert orjson.loads(reply.body)["totalTokens"] > 0
    assert (b"x-turnout-token-count", b"estimated") in reply.headers


async def test_gemini_embeddings_to_openai() -> None:
    answer = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5, -0.5]},
            {"object": "embedding", "index": 0, "embedding": [1, 0]},
        ],
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    }
    client = FakeClient(FakeResponse(body=orjson.dumps(answer)))
    body = {
        "requests": [
            {"model": "models/pub", "content": {"parts": [{"text": "a"}, {"text": "b"}]},
             "taskType": "RETRIEVAL_DOCUMENT", "title": "t", "outputDimensionality": 2},
            {"content": {"parts": [{"text": "c"}]}, "outputDimensionality": 2},
        ]
    }  # fmt: skip
    c = call("gemini", body, operation="batchEmbedContents")
    reply = await provider("openai-compatible", client).send(c, deployment(), "k")
    assert client.sent[0].url.endswith("/embeddings")
    assert client.sent[0].json == {
        "model": "up-model",
        "input": ["a\nb", "c"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert orjson.loads(reply.body) == {"embeddings": [{"values": [1, 0]}, {"values": [0.5, -0.5]}]}
    assert c.usage == Usage(6, 0, 0, 0)


async def test_gemini_embeddings_to_anthropic_are_refused() -> None:
    c = call("gemini", {"content": {"parts": [{"text": "x"}]}}, operation="embedContent")
    with pytest.raises(TranslationUnsupported, match="embedContent"):
        await provider("anthropic", FakeClient()).send(c, deployment(), "k")


@pytest.mark.parametrize(
    "answer",
    [b"[]", b"nope", b'{"data": {}}', b'{"data": [{"embedding": "x"}]}', b'{"data": []}'],
)
async def test_gemini_embeddings_malformed_answer_is_502(answer: bytes) -> None:
    c = call("gemini", {"content": {"parts": [{"text": "x"}]}}, operation="embedContent")
    client = FakeClient(FakeResponse(body=answer))
    with pytest.raises(GatewayError) as info:
        await provider("openai-compatible", client).send(c, deployment(), "k")
    assert info.value.status == 502


async def test_stream_error_keeps_its_kind_in_the_clients_frame() -> None:
    """An upstream overload mid-stream reaches an Anthropic client as an overload, not as the
    generic type of the status the gateway maps it to."""
    frame = {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}
    client = FakeClient(FakeResponse(chunks=[b"data: " + orjson.dumps(frame) + b"\n\n"]))
    c = call("anthropic", {**OPENAI_BODY, "max_tokens": 5, "stream": True}, stream=True)
    reply = await provider("gemini", client).send(c, deployment(), "k")
    with pytest.raises(UpstreamUnavailable) as info:
        await _drain(reply.chunks)
    err = info.value
    assert err.upstream is not None and err.upstream.kind == "unavailable"
    sent = stream_error_frame(err, "anthropic")
    assert sent.startswith(b"event: error\ndata: ")
    assert orjson.loads(sent.split(b"data: ", 1)[1])["error"]["type"] == "overloaded_error"
    assert b"busy" in sent


@pytest.mark.parametrize("stream", [False, True])
async def test_a_translated_answer_is_cached_without_decoding_it_again(
    stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Translation has just encoded the client's bytes from the IR: the cache stores them as
    they are (same entry as decoding them would give) and never parses them back."""
    from turnout.cache import record
    from turnout.cache.keys import CacheKey

    upstream = (
        FakeResponse(chunks=_anthropic_stream("Hel", "lo"))
        if stream
        else FakeResponse(body=orjson.dumps(ANTHROPIC_ANSWER))
    )
    c = call("openai", {**OPENAI_BODY, "stream": stream}, stream=stream)
    reply = await provider("anthropic", FakeClient(upstream)).send(c, deployment(), "k")
    frames = await _drain(reply.chunks) if stream else None
    assert c.encoded and c.usage is not None
    key = CacheKey("pub", "0" * 32, True)
    pending = record.Pending(key, 60, c, False, True, body=reply.body or None, frames=frames)
    stored = record.build_entry(pending, 0.0, 1 << 20)
    c.encoded = False
    reference = record.build_entry(pending, 0.0, 1 << 20)  # what decoding them stores
    assert not isinstance(stored, str) and stored == reference

    def never(*args: Any) -> Any:
        raise AssertionError("decoded the gateway's own bytes")

    monkeypatch.setattr(record, "decode_stream", never)
    monkeypatch.setattr("turnout.cache.record.orjson.loads", never)
    c.encoded = True
    assert record.build_entry(pending, 0.0, 1 << 20) == reference

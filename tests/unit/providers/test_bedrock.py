"""Bedrock's provider type and its event-stream codec: the codec agrees with botocore's decoder,
holds its bounds against a hostile upstream and costs linear time fed byte by byte; the provider
builds Bedrock's URLs and body, signs with SigV4 (verifiable by botocore), re-frames the event
stream as Anthropic's SSE and rewrites errors into Anthropic's shape."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer
from tests.unit.providers.fakes import FakeClient, FakeResponse, call, deployment

from turnout.config.compile import ProviderSpec
from turnout.errors import UpstreamInvalid
from turnout.providers.bedrock import BedrockOptions, BedrockProvider
from turnout.providers.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    encode,
)
from turnout.routing.classify import Classifier

pytestmark = pytest.mark.asyncio(loop_scope="function")

BODY = {"model": "pub", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}


def chunk(event: dict[str, Any]) -> bytes:
    payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()})
    return encode(HEADERS, payload)


# -- the codec -------------------------------------------------------------------------------------
async def test_encoded_messages_decode_with_botocore_and_back() -> None:
    data = chunk({"type": "ping"}) + encode({":message-type": "exception"}, b'{"message": "x"}')
    theirs = EventStreamBuffer()
    theirs.add_data(data)
    decoded = list(theirs)
    assert decoded[0].headers[":event-type"] == "chunk"
    assert decoded[1].payload == b'{"message": "x"}'
    ours = EventStreamDecoder().feed(data)
    assert [m.headers for m in ours] == [dict(d.headers) for d in decoded]
    assert [m.payload for m in ours] == [d.payload for d in decoded]


async def test_fed_one_byte_at_a_time() -> None:
    data = b"".join(chunk({"type": "ping", "n": i}) for i in range(50))
    decoder = EventStreamDecoder()
    out = [m for i in range(len(data)) for m in decoder.feed(data[i : i + 1])]
    assert len(out) == 50 and decoder.pending == 0


async def test_bounds_and_checksums() -> None:
    good = chunk({"type": "ping"})
    with pytest.raises(EventStreamError, match="prelude checksum"):
        EventStreamDecoder().feed(good[:3] + bytes([good[3] ^ 1]) + good[4:])
    with pytest.raises(EventStreamError, match="message checksum"):
        EventStreamDecoder().feed(good[:-1] + bytes([good[-1] ^ 1]))
    # A length with a valid prelude checksum is still refused past the bound, before any wait.
    huge = struct.pack(">II", 64 * 1024 * 1024, 0)
    import zlib

    huge += struct.pack(">I", zlib.crc32(huge))
    with pytest.raises(EventStreamError, match="exceeds"):
        EventStreamDecoder().feed(huge)
    decoder = EventStreamDecoder(max_message=1024)
    with pytest.raises(EventStreamError, match="exceeds"):
        decoder.feed(encode(HEADERS, b"x" * 2048))


# -- the provider ----------------------------------------------------------------------------------
def provider(client: FakeClient) -> BedrockProvider:
    spec = ProviderSpec(
        name="br",
        type="bedrock",
        base_url="https://bedrock-runtime.{region}.amazonaws.com",
        api_keys=("AKIDTEST:secret",),
        headers=(),
        forward_headers=(),
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=10.0,
        options=BedrockOptions(region="eu-west-1"),
    )
    return BedrockProvider(spec, client)


async def test_url_body_and_signature() -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    profile = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    await provider(client).send(call("anthropic", BODY), deployment(profile), "AKIDTEST:secret")
    sent = client.sent[0]
    assert sent.url == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
        "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
    )
    assert "model" not in sent.json and "stream" not in sent.json
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31"
    auth = sent.header("authorization")[0]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
    assert "/eu-west-1/bedrock/aws4_request" in auth and "secret" not in auth
    assert sent.header("x-amz-date") and sent.header("x-api-key") == []


async def test_a_malformed_key_is_refused_before_sending() -> None:
    from turnout.errors import UpstreamUnavailable

    client = FakeClient()
    with pytest.raises(UpstreamUnavailable, match="ACCESS_KEY_ID:SECRET"):
        await provider(client).send(call("anthropic", BODY), deployment("anthropic.m"), "no-colon")
    assert client.sent == []


async def test_the_event_stream_becomes_anthropic_sse() -> None:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "m"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "message_stop"},
    ]
    data = b"".join(chunk(e) for e in events)
    pieces = [data[:7], data[7:100], data[100:]]
    client = FakeClient(FakeResponse(chunks=pieces, headers=[(b"content-type", b"x")]))
    reply = await provider(client).send(
        call("anthropic", {**BODY, "stream": True}, stream=True),
        deployment("anthropic.m"),
        "AKIDTEST:s",
    )
    assert client.sent[0].url.endswith("/model/anthropic.m/invoke-with-response-stream")
    assert (b"content-type", b"text/event-stream") in reply.headers
    assert reply.chunks is not None
    out = b"".join([c async for c in reply.chunks])
    assert out.count(b"event: ") == 3 and out.startswith(b"event: message_start\ndata: {")


async def refused_stream(chunks: list[bytes]) -> None:
    """Upstream event-stream bytes the provider must refuse as the upstream's fault."""
    client = FakeClient(FakeResponse(chunks=chunks))
    with pytest.raises(UpstreamInvalid):  # before the first message (failover) or after it
        reply = await provider(client).send(
            call("anthropic", BODY, stream=True), deployment("anthropic.m"), "AKIDTEST:s"
        )
        assert reply.chunks is not None
        _ = [c async for c in reply.chunks]


async def test_a_stream_cut_inside_a_message_is_invalid() -> None:
    data = chunk({"type": "message_start", "message": {}})
    await refused_stream([data[:-3]])


async def test_errors_take_anthropics_shape_and_the_failover_reasons() -> None:
    client = FakeClient(
        FakeResponse(
            status=429,
            body=b'{"message": "Too many requests, please wait before trying again."}',
            headers=[(b"x-amzn-errortype", b"ThrottlingException:http://internal/")],
        )
    )
    reply = await provider(client).send(
        call("anthropic", BODY), deployment("anthropic.m"), "AKIDTEST:s"
    )
    assert reply.status == 429 and reply.body is not None
    body = orjson.loads(reply.body)
    assert body["error"]["type"] == "rate_limit_error"
    assert body["error"]["bedrock_error_type"] == "ThrottlingException"
    classifier = Classifier.for_provider(provider(FakeClient()).spec)

    def reason(status: int, name: str, message: str = "m") -> str:
        error = {"type": "x", "message": message, "bedrock_error_type": name}
        return classifier.classify(status, orjson.dumps({"type": "error", "error": error}))

    assert reason(400, "ServiceQuotaExceededException") == "rate_limited"
    assert reason(429, "ModelNotReadyException") == "overloaded"
    assert reason(424, "ModelErrorException") == "server_error"
    assert reason(404, "ResourceNotFoundException") == "server_error"
    assert reason(400, "ValidationException", "Input is too long for requested model.") == (
        "context_length"
    )
    assert reason(403, "AccessDeniedException") == "invalid_key"
    assert reason(400, "ValidationException") == "bad_request"


# -- Converse --------------------------------------------------------------------------------------
async def test_an_anthropic_body_as_converse() -> None:
    from turnout.providers import converse

    body = {
        "model": "x", "max_tokens": 9, "temperature": 0.5, "top_k": 3, "system": "be brief",
        "stop_sequences": ["END"],
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "t"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "u1", "name": "t",
                                               "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "u1",
                                          "content": "21", "is_error": True}]},
        ],
    }  # fmt: skip
    out = converse.request(body)
    assert out["system"] == [{"text": "be brief"}]
    assert out["inferenceConfig"] == {"maxTokens": 9, "temperature": 0.5, "stopSequences": ["END"]}
    assert out["additionalModelRequestFields"] == {"top_k": 3}
    assert out["toolConfig"]["toolChoice"] == {"tool": {"name": "t"}}
    assert out["messages"][1]["content"][0]["toolUse"] == {
        "toolUseId": "u1",
        "name": "t",
        "input": {"a": 1},
    }
    result = out["messages"][2]["content"][0]["toolResult"]
    assert result == {"toolUseId": "u1", "content": [{"text": "21"}], "status": "error"}
    from turnout.errors import BadRequest

    doc = {"type": "document", "source": {}}
    with pytest.raises(BadRequest, match=r"messages\[0\]\.content\[0\]"):
        converse.request({"messages": [{"role": "user", "content": [doc]}]})


async def test_a_converse_stream_without_metadata_still_ends() -> None:
    from turnout.providers.converse import StreamFramer

    framer = StreamFramer("m")
    out = framer.feed("messageStart", {"role": "assistant"})
    out += framer.feed("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
    out += framer.feed("messageStop", {"stopReason": "max_tokens"})
    out += framer.finish()
    assert out.count(b"event: content_block_start") == 1
    assert b'"stop_reason":"max_tokens"' in out and out.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert framer.finish() == b""  # once


# -- a hostile upstream ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"bytes": "%%%not-base64"}', orjson.dumps({"bytes": "bm90IGpzb24="}),
     orjson.dumps({"bytes": base64.b64encode(b'{"no": "type"}').decode()}), b"[]"],
)  # fmt: skip
async def test_a_chunk_that_is_not_an_event_is_the_upstreams_fault(payload: bytes) -> None:
    await refused_stream([encode(HEADERS, payload)])


async def test_a_converse_answer_that_is_not_one_is_the_upstreams_fault() -> None:
    client = FakeClient(FakeResponse(body=b'{"output": {"message": 3}}'))
    with pytest.raises(UpstreamInvalid):
        await provider(client).send(call("anthropic", BODY), deployment("meta.llama"), "AKIDTEST:s")


async def test_an_error_body_that_is_not_json_still_takes_anthropics_shape() -> None:
    client = FakeClient(FakeResponse(status=503, body=b"<html>Service Unavailable</html>"))
    reply = await provider(client).send(call("anthropic", BODY), deployment("anthropic.m"), "A:s")
    assert reply.status == 503 and reply.body is not None
    error = orjson.loads(reply.body)["error"]
    assert error["type"] == "overloaded_error" and "Service Unavailable" in error["message"]


@pytest.mark.parametrize("messages", [5, "hi", {"role": "user"}, True])
async def test_messages_that_are_not_a_list_are_the_clients_400(messages: Any) -> None:
    from turnout.errors import BadRequest
    from turnout.providers import converse

    with pytest.raises(BadRequest):
        converse.request({"messages": messages, "max_tokens": 8})

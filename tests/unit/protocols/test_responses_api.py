"""The Responses API codecs (protocols/responses/): every upstream's stream re-encoded as
Responses events and accumulated by the OpenAI SDK's own stream state, reasoning state
carried in ``encrypted_content`` and read back, requests to and from the IR."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from tests.unit.protocols.fixtures import ANTHROPIC_SIG, GEMINI_SIG, UPSTREAM_STREAMS
from tests.unit.protocols.helpers import DECODERS, split
from turnout.errors import PreviousResponseNotFound
from turnout.ir import (
    FinishReason,
    IRResponse,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ThinkingSignature,
    ToolCallPart,
    TranslationError,
    Usage,
)
from turnout.protocols.responses import reasoning, request, response
from turnout.protocols.responses.stream import StreamDecoder, StreamEncoder

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
TEXT = "Let me think\n\nabout é, \u2014 step by step. "


def _encode(src: str, chunks: list[bytes]) -> bytes:
    dec, enc = DECODERS[src](), StreamEncoder("public-model")
    out: list[bytes] = []
    for chunk in chunks:
        for event in dec.feed(chunk):
            out.extend(enc.feed(event))
    for event in dec.finish():
        out.extend(enc.feed(event))
    out.extend(enc.finish())
    return b"".join(out)


def _events(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for block in raw.split(b"\n\n"):
        if not block:
            continue
        head, data = block.split(b"\n", 1)
        payload = orjson.loads(data.removeprefix(b"data: "))
        assert head == b"event: " + payload["type"].encode()
        out.append(payload)
    return out


def _accumulate(raw: bytes) -> Any:
    """The SDK's own accumulator (what ``responses.stream`` runs), strictly validated."""
    events = _events(raw)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    state: ResponseStreamState[Any] = ResponseStreamState(text_format=omit, input_tools=omit)
    for payload in events:
        state.handle_event(EVENTS.validate_python(payload))
    final = state._completed_response
    assert final is not None
    return final


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
@pytest.mark.parametrize("src", ["openai", "anthropic", "gemini"])
def test_every_upstream_stream_accumulates_in_the_sdk(src: str, cuts: list[int]) -> None:
    tool = _accumulate(_encode(src, split(UPSTREAM_STREAMS[src]["tool"], cuts)))
    assert tool.output_text == "Let me check."
    calls = [(i.name, orjson.loads(i.arguments)) for i in tool.output if i.type == "function_call"]
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    thoughts = [i for i in tool.output if i.type == "reasoning"]
    assert "".join(s.text for i in thoughts for s in i.summary) == "Weather needs a tool."
    assert tool.usage is not None and tool.usage.input_tokens == 10
    text = _accumulate(_encode(src, split(UPSTREAM_STREAMS[src]["text"], cuts)))
    assert (text.output_text, text.status) == ("Hello world", "completed")


@pytest.mark.parametrize(
    ("src", "signature"), [("anthropic", ANTHROPIC_SIG), ("gemini", GEMINI_SIG)]
)
def test_signed_reasoning_rides_in_encrypted_content_and_decodes_back(
    src: str, signature: str
) -> None:
    raw = _encode(src, [UPSTREAM_STREAMS[src]["tool"]])
    final = _accumulate(raw)
    carried = [reasoning.decode(i.encrypted_content) for i in final.output if i.type == "reasoning"]
    assert signature in [p.signature for p in carried if p is not None]
    # Our own stream read back (a Responses upstream's answer) restores the signature.
    events: list[StreamEvent] = StreamDecoder().feed(raw)
    signs = [e for e in events if isinstance(e, ThinkingSignature)]
    assert [s.signature for s in signs] == [signature]


def test_the_carrier_keeps_the_exact_text_and_refuses_anything_else() -> None:
    for part in (
        ThinkingPart(TEXT, "SIG", source="anthropic"),
        ThinkingPart(redacted="R", source="anthropic"),
        ThinkingPart("", "GSIG", source="gemini"),
    ):
        assert reasoning.decode(reasoning.encode(part)) == part
    for other in (None, 3, "", "gAAAAABopenai-encrypted", "tnt1.!!!", "tnt1.eJzLSM3JyVcozy_KSQEA"):
        assert reasoning.decode(other) is None


def test_a_stateless_loop_reads_back_signed_thinking_before_its_call() -> None:
    answer = IRResponse(
        content=[
            ThinkingPart(TEXT, "SIG", source="anthropic"),
            ToolCallPart("toolu_1", "get_weather", {"city": "Paris"}),
        ],
        finish_reason=FinishReason.TOOL_CALLS,
        usage=Usage(3, 4),
    )
    body = response.from_ir(answer, "m")
    assert [i["type"] for i in body["output"]] == ["reasoning", "function_call"]
    items = [
        {"role": "user", "content": "weather?"},
        *body["output"],
        {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
    ]
    ir = request.to_ir({"model": "m", "input": items, "instructions": "be brief"})
    assert [t.text for t in ir.system] == ["be brief"]
    roles = [m.role for m in ir.messages]
    assert roles == ["user", "assistant", "tool"]
    thinking, call = ir.messages[1].content
    assert thinking == ThinkingPart(TEXT, "SIG", source="anthropic")
    assert isinstance(call, ToolCallPart) and call.arguments == {"city": "Paris"}
    result = ir.messages[2].content[0]
    assert result.name == "get_weather"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "tool", [{"type": "web_search"}, {"type": "file_search"}, {"type": "code_interpreter"}]
)
def test_built_in_tools_are_refused_by_name(tool: dict[str, Any]) -> None:
    with pytest.raises(TranslationError) as info:
        request.to_ir({"model": "m", "input": "hi", "tools": [tool]})
    assert info.value.field == "tools[0].type" and tool["type"] in info.value.message


def test_request_from_ir_is_a_stateless_responses_request() -> None:
    ir = request.to_ir(
        {
            "model": "m",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "reasoning": {"effort": "low"},
            "max_output_tokens": 50,
        }
    )
    body = request.from_ir(ir, "up")
    assert body["store"] is False
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]
    assert body["text"]["format"]["schema"] == {"type": "object"}
    assert body["reasoning"]["effort"] == "low" and body["max_output_tokens"] == 50


def test_response_to_ir_reads_status_calls_and_usage() -> None:
    body = {
        "id": "resp_1",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "Hel"}]},
            {"type": "web_search_call", "id": "ws_1"},
        ],
        "usage": {
            "input_tokens": 7,
            "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
            "output_tokens": 9,
            "output_tokens_details": {"reasoning_tokens": 4},
            "total_tokens": 16,
        },
    }
    ir = response.to_ir(body)
    assert ir.content == [TextPart("Hel")]
    assert ir.finish_reason == FinishReason.LENGTH
    assert ir.usage == Usage(7, 9, 2, 0, 4, 16)


def test_an_upstream_stream_error_is_a_stream_error() -> None:
    raw = (
        b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
        b'"response":{"id":"resp_1","model":"m"}}\n\n'
        b'event: error\ndata: {"type":"error","sequence_number":1,"code":"rate_limit_exceeded",'
        b'"message":"slow down"}\n\n'
    )
    events = StreamDecoder().feed(raw)
    assert events[-1].status == 429  # type: ignore[union-attr]
    cut = StreamDecoder()
    cut.feed(raw.split(b"event: error")[0])
    assert cut.finish()[-1].status == 502  # type: ignore[union-attr]


def test_a_conversation_stored_at_openai_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(TranslationError) as info:
        request.to_ir({"model": "m", "input": "and then?", "conversation": "conv_123"})
    assert info.value.field == "conversation" and "store: false" in info.value.message


def test_a_previous_response_id_left_unexpanded_is_openais_not_found() -> None:
    """The conversation step expands the ids the gateway holds; one still here is unknown."""
    with pytest.raises(PreviousResponseNotFound) as info:
        request.to_ir({"model": "m", "input": "and then?", "previous_response_id": "resp_123"})
    assert info.value.param == "previous_response_id" and "resp_123" in info.value.message
    assert info.value.code == "previous_response_not_found" and info.value.status == 400

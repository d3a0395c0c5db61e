"""All 9 (upstream, client) stream pairs: random network splits, rule validators, SDK parsers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.protocols import sdk
from tests.unit.protocols.fixtures import UPSTREAM_STREAMS
from tests.unit.protocols.helpers import pipeline, split, validate

PROTOCOLS = ["openai", "anthropic", "gemini"]
PAIRS = list(itertools.product(PROTOCOLS, PROTOCOLS))
FINISH = {
    ("openai", "tool"): "tool_calls", ("openai", "text"): "stop",
    ("anthropic", "tool"): "tool_use", ("anthropic", "text"): "end_turn",
    ("gemini", "tool"): "STOP", ("gemini", "text"): "STOP",
}  # fmt: skip


def _check(src: str, dst: str, kind: str, raw: bytes, include_usage: bool = True) -> None:
    result = validate(dst, raw, include_usage)
    assert result.error is None
    if kind == "tool":
        assert result.text == "Let me check."
        assert result.thinking == "Weather needs a tool."
        assert [(name, args) for _, name, args in result.tools] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "CET"}),
        ]
    else:
        assert result.text == "Hello world"
        assert result.tools == []
    assert result.finish == FINISH[(dst, kind)]


@pytest.mark.parametrize(("src", "dst"), PAIRS)
@pytest.mark.parametrize("kind", ["tool", "text"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_random_splits_produce_valid_streams(
    src: str, dst: str, kind: str, cuts: list[int]
) -> None:
    data = UPSTREAM_STREAMS[src][kind]
    whole = pipeline(src, dst, [data])
    pieces = pipeline(src, dst, split(data, cuts))
    assert pieces == whole
    _check(src, dst, kind, pieces)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_byte_by_byte(src: str, dst: str) -> None:
    data = UPSTREAM_STREAMS[src]["tool"]
    raw = pipeline(src, dst, [data[i : i + 1] for i in range(len(data))])
    _check(src, dst, "tool", raw)


@pytest.mark.parametrize("src", PROTOCOLS)
def test_openai_without_include_usage_has_no_usage_chunk(src: str) -> None:
    raw = pipeline(src, "openai", [UPSTREAM_STREAMS[src]["text"]], include_usage=False)
    _check(src, "openai", "text", raw, include_usage=False)


@pytest.mark.parametrize("src", PROTOCOLS)
@pytest.mark.parametrize("kind", ["tool", "text"])
def test_openai_sdk_parses_output(src: str, kind: str) -> None:
    chunks, final = sdk.openai_stream(pipeline(src, "openai", [UPSTREAM_STREAMS[src][kind]]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 10) or kind == "text"
    message = final.choices[0].message
    if kind == "tool":
        assert message.content == "Let me check."
        assert [c.function.name for c in message.tool_calls] == ["get_weather", "get_time"]
        assert final.choices[0].finish_reason == "tool_calls"
    else:
        assert message.content == "Hello world"
        assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("src", PROTOCOLS)
@pytest.mark.parametrize("kind", ["tool", "text"])
def test_anthropic_sdk_parses_output(src: str, kind: str) -> None:
    events, final = sdk.anthropic_stream(pipeline(src, "anthropic", [UPSTREAM_STREAMS[src][kind]]))
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    types = [b.type for b in final.content]
    if kind == "tool":
        assert types[0] == "thinking"
        signed = [b for b in final.content if b.type == "thinking" and b.signature]
        assert bool(signed) == (src != "openai")
        tools = [b for b in final.content if b.type == "tool_use"]
        assert [(t.name, t.input) for t in tools] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "CET"}),
        ]
        assert final.stop_reason == "tool_use"
    else:
        assert types == ["text"] and final.content[0].text == "Hello world"
        assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("src", PROTOCOLS)
@pytest.mark.parametrize("kind", ["tool", "text"])
def test_genai_sdk_parses_output(src: str, kind: str) -> None:
    chunks = sdk.genai_stream(pipeline(src, "gemini", [UPSTREAM_STREAMS[src][kind]]))
    text = "".join(c.text or "" for c in chunks)
    assert chunks[-1].candidates[0].finish_reason == "STOP"
    assert chunks[-1].usage_metadata.prompt_token_count == (
        8 if src == "anthropic" and kind == "text" else 10
    )
    if kind == "tool":
        assert text == "Let me check."
        calls = [c for ch in chunks for c in (ch.function_calls or [])]
        assert [(c.name, c.args) for c in calls] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "CET"}),
        ]
    else:
        assert text == "Hello world"

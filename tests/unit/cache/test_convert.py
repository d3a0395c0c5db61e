"""One stored answer, both forms: conversions judged by the official SDKs.

Answers are real mock-provider outputs (text, a tool call, reasoning) in each protocol; a
conversion is right when the SDK reads the same text, tool calls, reasoning and finish reason
from the converted form as from the original.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.cache.helpers import PROMPTS, THINKING, TOOLS, make_call, mock_answer
from tests.unit.cache.sdk import read
from turnout.cache.convert import (
    Unconvertible,
    Variant,
    body_to_stream,
    restream,
    stream_to_body,
)
from turnout.types import Usage

PROTOCOLS = ["openai", "anthropic", "gemini"]
SCENARIOS: dict[str, dict[str, dict[str, Any]]] = {
    "text": {p: {} for p in PROTOCOLS},
    "tool": TOOLS,
    "thinking": THINKING,
}
CASES = [(p, s) for p in PROTOCOLS for s in SCENARIOS]


def request(protocol: str, scenario: str) -> dict[str, Any]:
    return {**PROMPTS[protocol], **SCENARIOS[scenario][protocol]}


@pytest.mark.parametrize(("protocol", "scenario"), CASES)
def test_json_answer_replays_as_a_stream(protocol: str, scenario: str) -> None:
    body, _ = mock_answer(make_call(protocol, request(protocol, scenario)))
    assert body is not None
    frames = body_to_stream(Variant(protocol, "m", include_usage=True), body)
    assert len(frames) >= 2, "a replayed stream is real frames, not one blob"
    original = read(protocol, body, stream=False)
    replayed = read(protocol, b"".join(frames), stream=True)
    assert replayed == original
    assert original.text or original.calls


@pytest.mark.parametrize(("protocol", "scenario"), CASES)
def test_recorded_stream_replays_as_json(protocol: str, scenario: str) -> None:
    _, frames = mock_answer(make_call(protocol, request(protocol, scenario), stream=True))
    assert frames is not None
    body = stream_to_body(protocol, frames, "m")
    original = read(protocol, b"".join(frames), stream=True)
    converted = read(protocol, body, stream=False)
    assert converted == original
    assert original.text or original.calls
    if scenario == "thinking" and protocol != "openai":  # OpenAI shows no reasoning text
        assert original.thinking


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_stream_restreamed_with_or_without_usage_chunk(include_usage: bool) -> None:
    data = {**PROMPTS["openai"], "stream_options": {"include_usage": not include_usage}}
    _, frames = mock_answer(make_call("openai", data, stream=True))
    assert frames is not None
    out = restream(Variant("openai", "m", include_usage=include_usage), frames, Usage(3, 16))
    payloads = [
        orjson.loads(f[6:]) for c in out for f in c.split(b"\n\n") if f and f != b"data: [DONE]"
    ]
    usage_chunks = [p for p in payloads if p.get("choices") == []]
    assert len(usage_chunks) == (1 if include_usage else 0)
    if include_usage:
        assert usage_chunks[0]["usage"]["completion_tokens"] == 16
    assert out[-1].endswith(b"data: [DONE]\n\n")
    replayed = read("openai", b"".join(out), stream=True)
    original = read("openai", b"".join(frames), stream=True)
    assert (replayed.text, replayed.finish) == (original.text, original.finish)


def test_gemini_sse_recording_replays_as_a_json_array() -> None:
    _, frames = mock_answer(make_call("gemini", PROMPTS["gemini"], stream=True))
    assert frames is not None
    out = restream(Variant("gemini", "m", sse=False), frames, None)
    items = orjson.loads(b"".join(out))
    assert isinstance(items, list) and items[-1]["candidates"][0]["finishReason"] == "STOP"
    text = "".join(p.get("text", "") for i in items for p in i["candidates"][0]["content"]["parts"])
    assert text == read("gemini", b"".join(frames), stream=True).text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_recording_is_unconvertible(protocol: str) -> None:
    _, frames = mock_answer(make_call(protocol, PROMPTS[protocol], stream=True))
    assert frames is not None
    with pytest.raises(Unconvertible):
        stream_to_body(protocol, frames[: len(frames) // 2], "m")


def test_garbage_body_is_unconvertible() -> None:
    with pytest.raises(Unconvertible):
        body_to_stream(Variant("openai", "m"), b"[1, 2]")
    with pytest.raises(Unconvertible):
        body_to_stream(Variant("anthropic", "m"), b"not json")

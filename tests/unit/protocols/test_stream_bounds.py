"""What a stream decoder keeps per stream is bounded, and no upstream event costs more the more
came before it: the upstream chooses the indexes its blocks, tool calls and items are kept
under (docs/security.md, "An upstream stream that opens blocks without end")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turnout.ir import (
    BlockStop,
    Finish,
    FinishReason,
    StreamError,
    ThinkingDelta,
    ThinkingSignature,
    ToolCallStart,
)
from turnout.protocols import _shared
from turnout.protocols.anthropic.messages import JSON_TOOL_NAME
from turnout.protocols.anthropic.stream import StreamDecoder as AnthropicDecoder
from turnout.protocols.decoder import MAX_PARTS
from turnout.protocols.openai.stream import StreamDecoder as OpenAIDecoder
from turnout.protocols.openai.stream import StreamEncoder as OpenAIEncoder
from turnout.protocols.responses.stream import StreamDecoder as ResponsesDecoder
from turnout.providers.converse import StreamFramer


def _sse(payloads: list[Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return "".join(f"{head}data: {json.dumps(p)}\n\n" for p in payloads).encode()


def _errors(events: list[Any]) -> list[StreamError]:
    return [e for e in events if isinstance(e, StreamError)]


def _block(index: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": {"type": "text"}}


def test_anthropic_blocks_past_the_bound_fail_the_stream() -> None:
    decoder = AnthropicDecoder()
    assert not _errors(decoder.feed(_sse([_block(i) for i in range(MAX_PARTS)])))
    # The same index again opens nothing new.
    assert not _errors(decoder.feed(_sse([_block(7), _block(MAX_PARTS - 1)])))
    [error] = _errors(decoder.feed(_sse([_block(MAX_PARTS), _block(MAX_PARTS + 1)])))
    assert error.status == 502 and str(MAX_PARTS) in error.message
    assert len(decoder._blocks) == MAX_PARTS
    assert decoder.feed(_sse([{"type": "message_stop"}])) == []  # nothing after the failure


class _Unwalkable(dict[Any, Any]):
    def values(self) -> Any:
        raise AssertionError("the blocks were walked")


def test_anthropic_message_delta_does_not_walk_the_blocks() -> None:
    """Before, each ``message_delta`` with a stop reason looked at every block opened so far:
    20,000 blocks and 20,000 deltas (4.2 MB of SSE) held the event loop for 50 s."""
    decoder = AnthropicDecoder()
    decoder._blocks = _Unwalkable()
    decoder.feed(_sse([_block(i) for i in range(100)]))
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    assert not _errors(decoder.feed(_sse([delta] * 100)))


def test_anthropic_json_mode_is_still_told_apart() -> None:
    decoder = AnthropicDecoder()
    tool = {"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {}}
    start = {"type": "content_block_start", "index": 0, "content_block": tool}
    delta = {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}
    events = decoder.feed(_sse([start, delta]))
    [finish] = [e for e in events if isinstance(e, Finish)]
    assert finish.reason is FinishReason.STOP  # the JSON-mode tool's answer is the text


def _tool(index: int) -> dict[str, Any]:
    call = {"index": index, "id": f"c{index}", "type": "function", "function": {"name": "f"}}
    choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}
    return {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}


def test_openai_tool_calls_past_the_bound_fail_the_stream() -> None:
    decoder = OpenAIDecoder()
    events = decoder.feed(_sse([_tool(i) for i in range(MAX_PARTS)]))
    assert not _errors(events)
    assert sum(isinstance(e, ToolCallStart) for e in events) == MAX_PARTS
    [error] = _errors(decoder.feed(_sse([_tool(MAX_PARTS)])))
    assert error.status == 502 and len(decoder._ir_index) == MAX_PARTS


def test_responses_items_past_the_bound_fail_the_stream() -> None:
    def added(i: int) -> dict[str, Any]:
        item = {"type": "function_call", "call_id": f"c{i}", "name": "f"}
        return {"type": "response.output_item.added", "output_index": i, "item": item}

    decoder = ResponsesDecoder()
    assert not _errors(decoder.feed(_sse([added(i) for i in range(MAX_PARTS)])))
    [error] = _errors(decoder.feed(_sse([added(MAX_PARTS)])))
    assert error.status == 502 and len(decoder._calls) == MAX_PARTS

    def thought(i: int) -> dict[str, Any]:
        return {"type": "response.reasoning_text.delta", "output_index": i, "delta": "x"}

    decoder = ResponsesDecoder()
    events = decoder.feed(_sse([thought(i) for i in range(MAX_PARTS + 10)]))
    assert len(_errors(events)) == 1 and len(decoder._thought) == MAX_PARTS


def test_converse_blocks_left_open_past_the_bound_are_refused() -> None:
    framer = StreamFramer("m")
    text = {"delta": {"text": "x"}}
    for i in range(MAX_PARTS):
        framer.feed("contentBlockDelta", {"contentBlockIndex": i, **text})
    framer.feed("contentBlockDelta", {"contentBlockIndex": 3, **text})  # open already
    with pytest.raises(ValueError, match=str(MAX_PARTS)):
        framer.feed("contentBlockDelta", {"contentBlockIndex": MAX_PARTS, **text})


def test_thinking_held_for_an_openai_client_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thinking waits for the next tool call's id (which carries its signature): an upstream
    thinking without end was held whole."""
    monkeypatch.setattr(_shared, "MAX_HELD_CHARS", 1000)
    encoder = OpenAIEncoder("m")
    # Closed blocks give back what they held: any number of them passes.
    for _ in range(50):
        encoder.feed(ThinkingDelta("t" * 400))
        encoder.feed(BlockStop())
    # Signed thinking is held until a tool call takes it.
    for _ in range(2):
        encoder.feed(ThinkingDelta("t" * 400))
        encoder.feed(ThinkingSignature("s" * 40, "anthropic"))
    encoder.feed(ToolCallStart(0, "c", "f"))
    encoder.feed(ThinkingDelta("t" * 600))
    with pytest.raises(ValueError, match="held for the client"):
        encoder.feed(ThinkingDelta("t" * 600))

"""The shape checker, the request and response shapes of the three protocols, and the bound
on one SSE event."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.protocols.anthropic import shapes as an
from turnout.protocols.gemini import shapes as gm
from turnout.protocols.openai import shapes as oa
from turnout.protocols.shape import INT, NUM, STR, Arr, Obj, OneOf, ShapeError, Tagged, opt
from turnout.protocols.sse import MAX_EVENT_BYTES, SSEParser


def _error(shape: Any, value: Any) -> str:
    with pytest.raises(ShapeError) as caught:
        shape.check(value)
    return str(caught.value)


def test_messages_name_the_path_and_both_types() -> None:
    shape = Obj({"messages": Arr(Obj({"content": opt(OneOf(STR, Arr()))}))})
    assert _error(shape, {"messages": [{}, {"content": 5}]}) == (
        "messages[1].content: expected a string or an array or null, got a number"
    )
    assert _error(shape, {"messages": "x"}) == "messages: expected an array, got a string"


def test_booleans_are_not_numbers_and_null_only_where_allowed() -> None:
    assert _error(Obj({"n": INT}), {"n": True}) == "n: expected an integer, got a boolean"
    assert _error(Obj({"t": NUM}), {"t": None}) == "t: expected a number, got null"
    Obj({"t": opt(NUM)}).check({"t": None})
    Obj({"t": NUM}).check({"t": 0.5, "unknown": object()})  # unnamed keys are not looked at


def test_tagged_objects_by_tag_default_and_absence() -> None:
    shape = Tagged("type", {"text": Obj({"text": STR})}, default=Obj(), absent=Obj({"name": STR}))
    shape.check({"type": "other", "text": 5})
    assert _error(shape, {"type": "text", "text": 5}) == "text: expected a string, got a number"
    assert _error(shape, {"name": 5}) == "name: expected a string, got a number"


def test_required_fields_of_answers() -> None:
    assert _error(oa.RESPONSE, {"foo": 1}) == "choices: missing"
    assert _error(oa.RESPONSE, {"choices": []}) == (
        "choices: expected a non-empty array, got an empty array"
    )
    assert _error(an.RESPONSE, {"foo": 1}) == "content: missing"
    with pytest.raises(ShapeError, match="candidates: missing"):
        gm.check_response({"foo": 1})
    gm.check_response({"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}})


def test_anthropic_blocks_are_checked_at_any_depth() -> None:
    nested: Any = {"type": "text", "text": 5}
    for _ in range(3):
        nested = {"type": "tool_result", "tool_use_id": "t", "content": [nested]}
    body = {"messages": [{"role": "user", "content": [nested]}]}
    message = _error(an.REQUEST, body)
    assert message.startswith("messages[0].content[0].content[0].content[0].content[0].text")


def test_gemini_fields_are_checked_in_both_spellings() -> None:
    assert "generation_config.max_output_tokens" in _error(
        gm.REQUEST, {"generation_config": {"max_output_tokens": "32"}}
    )
    assert "contents[0].parts[0].function_call.name" in _error(
        gm.REQUEST, {"contents": [{"parts": [{"function_call": {"name": 5}}]}]}
    )


def test_one_sse_event_is_bounded() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: " + b"a" * (MAX_EVENT_BYTES // 2) + b"\n\n")
    with pytest.raises(ValueError, match="SSE event longer"):
        for _ in range(3):
            parser.feed(b"a" * (MAX_EVENT_BYTES // 2))  # a line that never ends
    lines = SSEParser()
    with pytest.raises(ValueError, match="SSE event longer"):
        for _ in range(3):
            lines.feed(b"data: " + b"b" * (MAX_EVENT_BYTES // 2) + b"\n")  # no blank line

"""Tool arguments and content of the wrong type where an Anthropic client gets them as they are
streamed or re-shaped: translated from another protocol's stream, or from Bedrock's Converse.

The Anthropic SDK parses a tool call's ``input_json_delta`` pieces as they arrive: before, a
piece that could not continue a JSON object made it raise a ``ValueError`` of its own mid-stream
(not an API error), and arguments cut short reached the caller as a complete, smaller
``input``. A Converse answer re-shaped as Anthropic's is not translated again: before, its
values of the wrong types reached the client in a 200. The gateway and its scripted upstream
are tests/security/answers.py's.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import pytest
from anthropic.types import Message

from tests.security.answers import header, whole
from tests.support.procs import Proc
from turnout.providers import eventstream


@pytest.fixture
def gateway(answers_gateway: Proc) -> Proc:
    return answers_gateway


def _chat_chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps(
        {"id": "c", "object": "chat.completion.chunk", "choices": [choice]}
    )


def _tool_stream(*pieces: str) -> dict[str, str]:
    """The header that has a Chat Completions upstream stream one tool call whose arguments
    arrive in ``pieces``, then end it as a tool call."""
    start = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather"}}
    events = [_chat_chunk({"role": "assistant", "tool_calls": [start]})]
    for piece in pieces:
        events.append(_chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    events += [_chat_chunk({}, "tool_calls"), "data: [DONE]"]
    return header({"type": "text/event-stream", "chunks": [e + "\n\n" for e in events]})


def _claude_stream(gateway: Proc, headers: dict[str, str]) -> Message:
    claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    with claude.messages.stream(
        model="to-chat",
        max_tokens=99,
        messages=[{"role": "user", "content": "weather?"}],
        extra_headers=headers,
    ) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


@pytest.mark.parametrize(
    "pieces",
    [["}"], ['{"city": "Pa'], ["[1", "]"], ['{"city": "Paris"}', "}"], ['{"a": tru', "x}"]],
    ids=["not-json", "cut-short", "an-array", "more-after", "a-bad-literal"],
)
def test_tool_arguments_that_are_no_object_fail_an_anthropic_clients_stream(
    gateway: Proc, pieces: list[str]
) -> None:
    """Before: the Anthropic SDK raised a ValueError of its own mid-stream (``}``, ``tru x``:
    not an API error, so nothing a caller handles for a failed call said so), or returned a
    message whose tool ``input`` was cut short (``{"city": "Pa"}``) or a list. Now the stream
    ends with the error frame the SDK raises as the API's error."""
    with pytest.raises(anthropic.APIError) as caught:
        _claude_stream(gateway, _tool_stream(*pieces))
    assert "not a JSON object" in str(caught.value)


def test_tool_arguments_in_many_pieces_reach_an_anthropic_client_whole(gateway: Proc) -> None:
    pieces = ["", "{", '"ci', 'ty": "P\\u00e', '9ris", "n": [1, 2.5e', "3, true, null]", "}"]
    message = _claude_stream(gateway, _tool_stream(*pieces))
    call = message.content[0]
    assert call.type == "tool_use"
    assert call.input == {"city": "Péris", "n": [1, 2500.0, True, None]}


def _converse_events(*events: tuple[str, dict[str, Any]]) -> dict[str, str]:
    """The header that has the scripted upstream answer a ConverseStream of ``events``."""
    frames = [
        base64.b64encode(
            eventstream.encode(
                {
                    ":message-type": "event",
                    ":event-type": kind,
                    ":content-type": "application/json",
                },
                json.dumps(payload).encode(),
            )
        ).decode()
        for kind, payload in events
    ]
    return header({"type": "application/vnd.amazon.eventstream", "binary": True, "chunks": frames})


def _at(index: int, delta: Any) -> dict[str, Any]:
    return {"contentBlockIndex": index, "delta": delta}


def _converse(*content: Any) -> dict[str, str]:
    answer = {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1},
    }
    return whole(answer)


_START = ("messageStart", {"role": "assistant"})
_TOOL_START = {"toolUse": {"toolUseId": "t", "name": "f"}}
_END = (
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("messageStop", {"stopReason": "end_turn"}),
    ("metadata", {"usage": {"inputTokens": 1, "outputTokens": 1}}),
)
CONVERSE_WRONG = {
    "text": _converse({"text": 5}),
    "tool": _converse({"toolUse": {"toolUseId": 5, "name": ["n"], "input": [1]}}),
    "reasoning": _converse({"reasoningContent": {"reasoningText": {"text": 5, "signature": {}}}}),
    "stream-text": _converse_events(
        _START, ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 5}}), *_END
    ),
    "stream-tool": _converse_events(
        _START,
        ("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": 5}}}),
        *_END,
    ),
    "stream-arguments": _converse_events(
        _START,
        (
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": {"a": 1}}}}),
        *_END,
    ),
    "stream-arguments-no-object": _converse_events(
        _START,
        ("contentBlockStart", {"contentBlockIndex": 0, "start": _TOOL_START}),
        ("contentBlockDelta", _at(0, {"toolUse": {"input": '{"a": 1}}'}})),
        *_END,
    ),
    "stream-arguments-cut-short": _converse_events(
        _START,
        ("contentBlockStart", {"contentBlockIndex": 0, "start": _TOOL_START}),
        ("contentBlockDelta", _at(0, {"toolUse": {"input": '{"city": "Pa'}})),
        *_END,
    ),
    "stream-signature": _converse_events(
        _START,
        (
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": 7}}},
        ),
        *_END,
    ),
}


@pytest.mark.parametrize("case", list(CONVERSE_WRONG))
def test_a_converse_answer_of_the_wrong_type_fails_for_an_anthropic_client(
    gateway: Proc, case: str
) -> None:
    """Bedrock's Converse answers reach an Anthropic client re-shaped as Anthropic's, without
    the translation that checks other clients' answers. Before: ``"text": 5``, a tool call's
    ``"id": 5``, ``"name": ["n"]`` and ``"input": [1]``, a thinking block's ``"thinking": 5``,
    streamed arguments as an object, went through to the client as they came (an OpenAI
    client of the same model got a 502). Now the Anthropic SDK raises the API's error."""
    claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    chat: Any = [{"role": "user", "content": "hi"}]
    headers = CONVERSE_WRONG[case]
    with pytest.raises(anthropic.APIError) as caught:
        if case.startswith("stream"):
            with claude.messages.stream(
                model="to-converse", max_tokens=9, messages=chat, extra_headers=headers
            ) as stream:
                for _ in stream:
                    pass
        else:
            claude.messages.create(
                model="to-converse", max_tokens=9, messages=chat, extra_headers=headers
            )
    assert "invalid answer" in str(caught.value) or "not one" in str(caught.value), caught.value


def test_a_converse_answer_of_the_right_types_reaches_an_anthropic_client(gateway: Proc) -> None:
    claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
    chat: Any = [{"role": "user", "content": "hi"}]
    message = claude.messages.create(
        model="to-converse", max_tokens=9, messages=chat, extra_headers=_converse({"text": "Hi"})
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hi"
    headers = _converse_events(
        _START, ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}), *_END
    )
    with claude.messages.stream(
        model="to-converse", max_tokens=9, messages=chat, extra_headers=headers
    ) as stream:
        assert stream.get_final_text() == "Hi"

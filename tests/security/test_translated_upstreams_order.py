"""A translated stream's events in any order, as a property: whatever order a hostile upstream
sends a valid stream's events in (a delta before its block, a tool call's arguments before the
call, the end first, a block closed twice), and whatever index it gives an event, each client's
official SDK reads a complete answer of its own types or raises its own API error.

test_upstream_answers.py varies the values of real streams and drops or repeats one event;
this varies their order, which no value mutation does.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.answers import PAIRS, header
from tests.security.test_translated_upstreams import _raw
from tests.security.test_upstream_answers import SDK_ERRORS, _sdk_stream
from tests.security.translated_streams import (
    A_BLOCK_STOP,
    A_START,
    A_STOP,
    A_TEXT,
    A_TEXT_START,
    A_TOOL,
    CHAT_START,
    CHAT_TEXT,
    CHAT_TOOL,
    CHAT_USAGE,
    G_END,
    G_TEXT,
    R_ADDED,
    R_CREATED,
    R_DONE,
    R_FN_ITEM,
    R_ITEM_DONE,
    R_PART,
    R_TEXT,
    _a,
    _chat_chunk,
    _chat_tool,
    _frame,
    _g,
    _r,
)
from tests.support.procs import Proc

EXAMPLES = 10  # per pair: 120 streams, each read raw and by the SDK's stream helper


def _events(upstream: str, index: int) -> list[str]:
    """A stream of text then a tool call; ``index``: the tool call's index, as the upstream
    numbers it (1 where the protocol counts from 0 and the text came first)."""
    if upstream == "chat":
        args = _chat_tool(index, function={"arguments": '{"a": 1}'})
        chunks = (CHAT_START, CHAT_TEXT, CHAT_TOOL, args, _chat_chunk({}, "tool_calls"))
        return [_frame(e) for e in (*chunks, CHAT_USAGE, "[DONE]")]
    if upstream == "messages":
        start = _a("content_block_start", index=index, content_block=A_TOOL)
        delta = {"type": "input_json_delta", "partial_json": '{"a": 1}'}
        piece = _a("content_block_delta", index=index, delta=delta)
        end = _a("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 2})
        stop = _a("content_block_stop", index=index)
        return [A_START, A_TEXT_START, A_TEXT, A_BLOCK_STOP, start, piece, stop, end, A_STOP]
    if upstream == "gemini":
        return [G_TEXT, _g([{"functionCall": {"name": "f", "args": {"a": 1}}}]), G_END]
    item = {**R_FN_ITEM, "arguments": '{"a": 1}', "status": "completed"}
    added = _r("response.output_item.added", output_index=index, item=R_FN_ITEM)
    more = _r("response.function_call_arguments.delta", output_index=index, item_id="fc_1",
              delta='{"a": 1}')  # fmt: skip
    done = _r("response.output_item.done", output_index=index, item=item)
    return [R_CREATED, R_ADDED, R_PART, R_TEXT, R_ITEM_DONE, added, more, done, R_DONE]


@st.composite
def reordered(draw: st.DrawFn, upstream: str) -> dict[str, Any]:
    index = draw(st.sampled_from([0, 1, 2, 7]))
    events = draw(st.permutations(_events(upstream, index)))
    if draw(st.booleans()):  # one event twice, somewhere
        events.insert(draw(st.integers(0, len(events))), draw(st.sampled_from(events)))
    return {"type": "text/event-stream", "chunks": events}


@pytest.fixture
def gateway(answers_gateway: Proc) -> Proc:
    return answers_gateway


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_a_stream_in_any_order_is_read_by_the_clients_sdk(
    gateway: Proc, upstream: str, client: str
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(answer=reordered(upstream))
    def check(answer: dict[str, Any]) -> None:
        _raw(gateway, client, upstream, True, answer)
        with contextlib.suppress(*SDK_ERRORS):
            _sdk_stream(gateway, client, f"to-{upstream}", header(answer))

    check()


def test_nothing_crashed_inside_the_gateway(gateway: Proc) -> None:
    output = gateway.output()
    assert "Traceback" not in output and "request failed" not in output, output[-3000:]

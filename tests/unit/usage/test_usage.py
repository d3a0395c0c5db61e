"""Usage read from relayed bytes: bodies and streams of every protocol, cut anywhere."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout import usage
from turnout.protocols.openai.usage import OpenAIStream, ask_for_usage
from turnout.protocols.responses.usage import ResponsesStream
from turnout.types import Call, Usage
from turnout.usage.scan import KeyTail, last_object

OPENAI_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 30,
    "total_tokens": 42,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 7, "audio_tokens": 0},
}


def _call(data: dict[str, object], protocol: str = "openai", operation: str = "chat") -> Call:
    return Call(
        protocol=protocol,
        operation=operation,
        model="m",
        body=orjson.dumps(data),
        data=data,
        stream=True,
        headers={},
        request_id="r",
        started=time.perf_counter(),
    )


def _openai_body(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "x",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": OPENAI_USAGE,
        }
    )


@pytest.mark.parametrize("size", [10, 50_000])  # parsed whole / found from the end
def test_openai_body(size: int) -> None:
    # Content mentioning "usage" is escaped inside its string and cannot be mistaken.
    body = _openai_body('the "usage":{"prompt_tokens":999} ' + "x" * size)
    assert usage.from_body("openai", body) == Usage(12, 30, 4, 7)


def test_anthropic_body_counts_cache_reads_as_input() -> None:
    body = orjson.dumps(
        {
            "content": [{"type": "tool_use", "input": {"usage": {"input_tokens": 999}}}],
            "usage": {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 20},
        }
        | {"pad": "y" * 10_000}
    )
    # The tool's own "usage" key comes first; the message's usage is the last one.
    assert usage.from_body("anthropic", body) == Usage(25, 9, 20, 0)


def test_gemini_body_counts_thoughts_as_output() -> None:
    meta = {"promptTokenCount": 8, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}
    body = orjson.dumps({"candidates": [], "usageMetadata": meta})
    assert usage.from_body("gemini", body) == Usage(8, 5, 0, 2)


@pytest.mark.parametrize("body", [b"", b"not json", b'{"usage": null}', b"[1]", b'{"a":1}'])
def test_bodies_without_usage(body: bytes) -> None:
    assert usage.from_body("openai", body) is None
    assert usage.from_body("openai", body + b" " * 5000) is None


def test_last_object_ignores_what_is_not_an_object() -> None:
    big = b'{"x": "' + b"a" * 5000 + b'", "usage": "n/a"}'
    assert last_object(big, b'"usage"') is None
    cut = b'{"x": "' + b"a" * 5000 + b'", "usage": {"a": {"b": 1}'
    assert last_object(cut, b'"usage"') is None


def _openai_frames(with_usage: bool) -> list[bytes]:
    head = {"id": "c", "object": "chat.completion.chunk", "model": "m"}
    frames = [
        b"data: "
        + orjson.dumps({**head, "choices": [{"delta": {"content": t}}], "usage": None})
        + b"\n\n"
        for t in ("Hel", "lo")
    ]
    if with_usage:
        frames.append(
            b"data: " + orjson.dumps({**head, "choices": [], "usage": OPENAI_USAGE}) + b"\n\n"
        )
    frames.append(b"data: [DONE]\n\n")
    return frames


def _feed(observer: usage.StreamObserver, data: bytes, cuts: list[int]) -> bytes:
    out, start = [], 0
    for cut in [*sorted(set(cuts)), len(data)]:
        if cut > start:
            out.append(observer.feed(data[start:cut]))
            start = cut
    out.append(observer.flush())
    return b"".join(out)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=900), max_size=8))
def test_openai_usage_chunk_is_removed_however_the_stream_is_cut(cuts: list[int]) -> None:
    full = b"".join(_openai_frames(with_usage=True))
    wanted = b"".join(_openai_frames(with_usage=False))
    observer = OpenAIStream(strip=True)
    assert _feed(observer, full, [c for c in cuts if c < len(full)]) == wanted
    assert observer.usage() == Usage(12, 30, 4, 7)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=900), max_size=8))
def test_openai_usage_chunk_is_kept_when_the_client_asked(cuts: list[int]) -> None:
    full = b"".join(_openai_frames(with_usage=True))
    observer = OpenAIStream(strip=False)
    assert _feed(observer, full, [c for c in cuts if c < len(full)]) == full
    assert observer.usage() == Usage(12, 30, 4, 7)


@pytest.mark.parametrize(
    "line",
    [
        b'data: {"choices":[],"usage":%s,"x":}\n\n',  # the chunk's JSON broken after usage
        b'data: {"choices":[],"usage": %s}\r\n\r\n',
        b'data:{"usage":%s}\n\n',
    ],
)
def test_a_stripped_usage_line_is_read_whole_or_by_its_object(line: bytes) -> None:
    observer = OpenAIStream(strip=True)
    frames = _openai_frames(with_usage=False)
    frames.insert(-1, line % orjson.dumps(OPENAI_USAGE))
    assert b"usage" not in _feed(observer, b"".join(frames), []).replace(b'"usage":null', b"")
    assert observer.usage() == Usage(12, 30, 4, 7)


def test_openai_stream_without_a_usage_chunk() -> None:
    observer = OpenAIStream(strip=True)
    full = b"".join(_openai_frames(with_usage=False))
    assert _feed(observer, full, []) == full
    assert observer.usage() is None


def test_crlf_framing_is_stripped_whole() -> None:
    frames = [f.replace(b"\n", b"\r\n") for f in _openai_frames(with_usage=True)]
    observer = OpenAIStream(strip=True)
    out = _feed(observer, b"".join(frames), [])
    assert out == b"".join(frames[:2] + frames[3:])


def test_ask_for_usage_splices_the_option_into_the_bytes() -> None:
    call = _call({"model": "m", "stream": True, "messages": []})
    original = call.body
    assert ask_for_usage(call) is True
    assert orjson.loads(call.body)["stream_options"] == {"include_usage": True}
    assert call.data["stream_options"] == {"include_usage": True}
    assert call.client_body == original


def test_ask_for_usage_keeps_other_stream_options() -> None:
    call = _call({"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}})
    assert ask_for_usage(call) is True
    assert orjson.loads(call.body)["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }


def test_a_client_that_asked_gets_its_body_untouched() -> None:
    call = _call({"model": "m", "stream": True, "stream_options": {"include_usage": True}})
    body = call.body
    assert ask_for_usage(call) is False
    assert call.body is body


def test_observe_only_asks_chat_streams() -> None:
    embeddings = _call({"model": "m"}, operation="embeddings")
    usage.observe(embeddings, ask=True)
    assert "stream_options" not in embeddings.data
    chat = _call({"model": "m", "stream": True})
    usage.observe(chat, ask=False)
    assert "stream_options" not in chat.data


ANTHROPIC_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":'
    b'{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":'
    b'"input_json_delta","partial_json":"{\\"usage\\": 5}"}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":42}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(ANTHROPIC_STREAM) - 1), max_size=8))
def test_anthropic_stream_merges_start_and_delta(cuts: list[int]) -> None:
    observer = usage.observe(_call({}, protocol="anthropic", operation="messages"), ask=True)
    assert _feed(observer, ANTHROPIC_STREAM, cuts) == ANTHROPIC_STREAM
    assert observer.usage() == Usage(10, 42, 3, 0)


def test_anthropic_stream_cut_after_start_keeps_the_input_side() -> None:
    observer = usage.observe(_call({}, protocol="anthropic", operation="messages"), ask=True)
    observer.feed(ANTHROPIC_STREAM[:200])
    assert observer.usage() == Usage(10, 1, 3, 0)


def _gemini_chunk(meta: dict[str, int]) -> dict[str, object]:
    return {"candidates": [{"content": {"parts": [{"text": "x"}]}}], "usageMetadata": meta}


@pytest.mark.parametrize("sse", [True, False])
def test_gemini_stream_takes_the_last_usage(sse: bool) -> None:
    chunks = [
        _gemini_chunk({"promptTokenCount": 8, "candidatesTokenCount": 1}),
        _gemini_chunk({"promptTokenCount": 8, "candidatesTokenCount": 6, "totalTokenCount": 14}),
    ]
    if sse:
        data = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
    else:  # the JSON-array form, pretty-printed as the REST API writes it
        data = orjson.dumps(chunks, option=orjson.OPT_INDENT_2)
    observer = usage.observe(_call({}, protocol="gemini", operation="generateContent"), ask=True)
    assert _feed(observer, data, list(range(7, len(data), 13))) == data
    assert observer.usage() == Usage(8, 6, 0, 0)


def test_key_tail_stops_growing() -> None:
    tail = KeyTail(b'"usage"')
    tail.feed(b'{"usage": {"a": 1}}')
    for _ in range(1000):
        tail.feed(b"x" * 1000)
    assert tail.last() == {"a": 1}
    assert len(tail._last or b"") <= 2048


@pytest.mark.parametrize("strip", [True, False])
def test_openai_stream_cut_at_every_single_position(strip: bool) -> None:
    full = b"".join(_openai_frames(with_usage=True))
    wanted = b"".join(_openai_frames(with_usage=not strip))
    for cut in range(1, len(full)):
        observer = OpenAIStream(strip=strip)
        assert _feed(observer, full, [cut]) == wanted, cut
        assert observer.usage() == Usage(12, 30, 4, 7), cut


def test_a_line_that_never_ends_is_not_held_back() -> None:
    """A hostile upstream's endless line would otherwise grow the held-back tail forever."""
    from turnout.protocols.sse import MAX_EVENT_BYTES

    observer = OpenAIStream(strip=True)
    half = b"a" * (MAX_EVENT_BYTES // 2 + 1)
    assert observer.feed(b"data: " + half) == b""  # held: it may still be the usage line
    assert observer.feed(half + half) == b"data: " + half + half + half  # released, relayed
    assert observer.feed(b"more") == b"more"
    assert observer.flush() == b""


# A Responses answer ends with the request's metadata, after its usage: a client's key named
# "usage" there (a string, or null) must not stand in for the answer's own.
_ECHO = {"usage": "x", "b": "usage"}
_RESPONSE = {
    "id": "resp_1",
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "y" * 5000}]}],
    "usage": {"input_tokens": 11, "output_tokens": 600, "total_tokens": 611},
    "user": None,
    "metadata": _ECHO,
}
_EVENTS = b"".join(
    b"event: %s\ndata: %s\n\n" % (kind.encode(), orjson.dumps({"type": kind, "response": r}))
    for kind, r in [
        ("response.created", {**_RESPONSE, "usage": None}),
        ("response.completed", _RESPONSE),
    ]
)


def test_an_echoed_key_after_the_usage_is_not_the_usage() -> None:
    assert usage.from_body("responses", orjson.dumps(_RESPONSE)) == Usage(11, 600, 0, 0)
    # A null is taken at its word (OpenAI refuses null metadata values): no usage, so the call
    # settles at its estimate, never at an earlier object's counts.
    body = orjson.dumps({**_RESPONSE, "metadata": {"usage": None}})
    assert last_object(body, b'"usage"') is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(_EVENTS) - 1), max_size=8))
def test_an_echoed_key_does_not_hide_a_stream_usage_however_it_is_cut(cuts: list[int]) -> None:
    observer = ResponsesStream()
    _feed(observer, _EVENTS, cuts)
    assert observer.usage() == Usage(11, 600, 0, 0)


def test_an_echoed_key_cut_right_after_its_name_falls_back_to_the_object() -> None:
    """The value of the last key may arrive in the next read: the object before it is kept."""
    end = _EVENTS.rindex(b'"usage"') + len(b'"usage"')
    for cuts in ([end], [end, end + 1], [end - 3, end, end + 2]):
        tail = KeyTail(b'"usage"')
        _feed_tail(tail, _EVENTS, cuts)
        assert tail.last() == _RESPONSE["usage"]


def _feed_tail(tail: KeyTail, data: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in [*cuts, len(data)]:
        tail.feed(data[start:cut])
        start = cut


def test_a_null_usage_is_no_usage_not_an_earlier_object() -> None:
    """``"usage": null`` (an upstream without counts) is not replaced by an object before it: a
    client's tool schema with a ``usage`` property would then count as 0 tokens."""
    schema = {"type": "object", "properties": {"usage": {"type": "object"}}}
    answer = {**_RESPONSE, "tools": [{"type": "function", "parameters": schema}], "usage": None}
    answer = {"tools": answer.pop("tools"), **answer}
    assert usage.from_body("responses", orjson.dumps(answer)) is None
    observer = ResponsesStream()
    _feed(observer, b"data: " + orjson.dumps({"response": answer}) + b"\n\n", [100, 5000])
    assert observer.usage() is None


@pytest.mark.parametrize(
    "last",
    [
        # Groq: the last content chunk carries the finish reason and ``x_groq.usage``.
        b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"x_groq":{"id":"r","usage":%s}}\n\n',
        # A server that puts usage in its last content chunk, text and all.
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"end."},'
        b'"finish_reason":"stop"}],"usage":%s}\n\n',
    ],
)
def test_usage_in_a_chunk_that_answers_is_read_and_the_chunk_kept(last: bytes) -> None:
    """Before: stripping cut any line holding a usage object, so the client lost this chunk's
    finish reason (and text); only OpenAI's usage-only chunk (empty ``choices``) is cut."""
    observer = OpenAIStream(strip=True)
    frames = _openai_frames(with_usage=False)
    line = last % orjson.dumps(OPENAI_USAGE)
    frames.insert(-1, line)
    full = b"".join(frames)
    assert _feed(observer, full, []) == full
    assert observer.usage() == Usage(12, 30, 4, 7)

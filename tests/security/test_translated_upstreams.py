"""A hostile upstream on every translated route, read by the official SDKs.

For each cell of the matrix (client protocol x upstream protocol, the two differing), whole and
streamed, the upstream answers a 200 that is not what its protocol promises: HTML, another
protocol's body, bytes that are not UTF-8, ``NaN``, integers past 64 bits, nesting past any
parser's depth, an SSE stream cut before its end event, events out of order (a delta before its
start, a block or tool call index never opened, the end twice, events after the end), unknown
events, usage of the wrong type, one event line larger than the parser's bound.

Whatever comes, each official client (``openai``, ``anthropic``, ``google-genai``) reads a
complete answer of its own types or raises its own API error (the gateway's 502, or the
protocol's error event mid-stream); it never hangs, never fails to parse what the gateway sent,
and never takes a stream cut short for a finished one. The gateway answers no 500, logs no
traceback and keeps serving.

tests/security/test_upstream_answers.py varies real answers' values at random; this file sends
the named shapes above, which a value mutation never produces (bytes that are not JSON at all,
events reordered or unknown, one line of 17 MB).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest

from tests.security.answers import PAIRS, error_shape, header, request
from tests.security.test_upstream_answers import (
    SDK_ERRORS,
    WHOLE,
    _frames,
    _sdk_stream,
    check_stream,
)
from tests.security.translated_answers import BODIES, error_cases, whole_cases
from tests.security.translated_streams import stream_cases
from tests.support.procs import Proc


def _cells(kind: str) -> list[Any]:
    cases = whole_cases if kind == "whole" else stream_cases
    return [
        pytest.param(upstream, client, name, id=f"{upstream}-to-{client}-{name}")
        for upstream, client in PAIRS
        for name in cases(upstream)
    ]


@pytest.fixture
def gateway(answers_gateway: Proc) -> Proc:
    return answers_gateway


# Streams that never finish well in their protocol: the client must be told (a 502, or its
# error frame last), whatever its protocol's own end marker (Gemini's streams have none).
MUST_FAIL = {
    "null", "array", "string", "infinity", "bigint", "negative-bigint", "bad-escape",
    "trailing", "sse-body",
    "html", "json-body", "empty", "cut-before-end", "cut-mid-event", "nan", "non-utf8", "deep",
    "data-array", "data-string", "data-null", "huge-line", "huge-event", "comments-only",
    "as-chat", "as-messages", "as-gemini", "as-responses", "error-odd", "error-null",
    "failed-odd",
}  # fmt: skip


def _raw(
    gateway: Proc, client: str, upstream: str, stream: bool, answer: Any, fail: bool = False
) -> None:
    """The gateway's answer as bytes: a 200 of the client's own types (a stream with its end
    or an error frame last) or a 502 in the client's error shape; ``fail``: not a 200
    that reads as a success."""
    path, body = request(client, f"to-{upstream}", stream)
    data = b""
    status = 0
    try:
        with httpx.stream(
            "POST", gateway.url + path, json=body, headers=header(answer), timeout=60
        ) as reply:
            status = reply.status_code
            for chunk in reply.iter_raw():
                data += chunk
    except httpx.RemoteProtocolError:  # a failed stream is aborted after its error frame
        pass
    assert status in (200, 502), (status, data[-500:])
    if status == 502:
        error_shape(client, json.loads(data))
    elif stream:
        check_stream(client, data)
        if fail:
            *_, (name, last) = _frames(data)
            assert name == "error" or "error" in last, data[-600:]
    else:
        assert not fail, data[-600:]
        WHOLE[client].validate_python(json.loads(data))


def _sdk_whole(gateway: Proc, client: str, model: str, headers: dict[str, str]) -> None:
    import anthropic
    import openai
    from google import genai
    from google.genai import types as genai_types

    chat: Any = [{"role": "user", "content": "hi"}]
    if client == "chat":
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        oa.chat.completions.create(model=model, messages=chat, extra_headers=headers)
    elif client == "responses":
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        oa.responses.create(model=model, input="hi", extra_headers=headers)
    elif client == "messages":
        claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        claude.messages.create(model=model, max_tokens=99, messages=chat, extra_headers=headers)
    else:
        options = genai_types.HttpOptions(base_url=gateway.url, headers=headers)
        gemini = genai.Client(api_key="k", http_options=options)
        gemini.models.generate_content(model=model, contents="hi")


@pytest.mark.parametrize(("upstream", "client", "case"), _cells("whole"))
def test_a_hostile_whole_answer_is_the_upstreams_fault(
    gateway: Proc, upstream: str, client: str, case: str
) -> None:
    answer = whole_cases(upstream)[case]
    _raw(gateway, client, upstream, False, answer, case in MUST_FAIL)
    with contextlib.suppress(*SDK_ERRORS):
        _sdk_whole(gateway, client, f"to-{upstream}", header(answer))


@pytest.mark.parametrize(("upstream", "client", "case"), _cells("stream"))
def test_a_hostile_stream_is_the_upstreams_fault(
    gateway: Proc, upstream: str, client: str, case: str
) -> None:
    answer = stream_cases(upstream)[case]
    _raw(gateway, client, upstream, True, answer, case in MUST_FAIL)
    with contextlib.suppress(*SDK_ERRORS):
        _sdk_stream(gateway, client, f"to-{upstream}", header(answer))


def test_the_gateway_logged_no_crash_and_still_serves(gateway: Proc) -> None:
    output = gateway.output()
    assert "Traceback" not in output and "request failed" not in output, output[-3000:]
    for upstream, client in PAIRS:
        _raw(gateway, client, upstream, False, {"chunks": [json.dumps(BODIES[upstream])]})


# 500 stands for every ordinary status (a body is parsed alike whatever it is); 529 is
# the one status with a meaning of its own (Anthropic's "overloaded").
@pytest.mark.parametrize("status", [500, 529])
@pytest.mark.parametrize(
    ("upstream", "client", "case"),
    [
        pytest.param(u, c, name, id=f"{u}-to-{c}-{name}")
        for u, c in PAIRS
        for name in error_cases(u)
    ],
)
def test_a_hostile_error_answer_keeps_the_clients_error_shape(
    gateway: Proc, upstream: str, client: str, case: str, status: int
) -> None:
    answer = {**error_cases(upstream)[case], "status": status}
    for stream in (False, True):
        path, body = request(client, f"to-{upstream}", stream)
        reply = httpx.post(gateway.url + path, json=body, headers=header(answer), timeout=60)
        # Anthropic's 529 (overloaded) means nothing elsewhere: another client is told 503.
        expected = 503 if status == 529 and client != "messages" else status
        # A Gemini error body's own code (400-599) names its status, as Google's do.
        named = {500} if upstream == "gemini" and status == 529 and "code" not in case else set()
        assert reply.status_code in {expected, 502} | named, (reply.status_code, reply.text[:300])
        error_shape(client, reply.json())


def test_each_answer_of_a_gemini_array_element_is_read() -> None:
    """Before, a JSON-array element (a Gemini stream without ``alt=sse``) was read for its first
    answer only, and one holding no object (``[1, 2]``) went by as nothing."""
    from turnout.ir import StreamError, TextDelta
    from turnout.protocols.gemini.stream import StreamDecoder

    first = {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}
    second = {"candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}]}
    decoder = StreamDecoder()
    events = decoder.feed(b"data: " + json.dumps([first, second]).encode() + b"\n\n")
    events += decoder.finish()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b"]
    assert not any(isinstance(e, StreamError) for e in events)
    decoder = StreamDecoder()
    events = decoder.feed(b"data: [1, 2]\n\n") + decoder.finish()
    assert sum(isinstance(e, StreamError) for e in events) == 1

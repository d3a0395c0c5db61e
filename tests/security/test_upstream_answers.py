"""Hostile upstream answers on translated routes, as a property: whatever a 200 answer holds,
the client gets its own protocol's answer that its official SDK's types admit, or a 502 (an
error frame, once its stream has begun) in its own error shape; never a 500, never a stream
that stops without its end or an error.

Each example takes a real answer of the upstream's protocol (the mock provider's, whole or
streamed, with a tool call and reasoning or plain text), replaces one to three of its values
anywhere in the tree with arbitrary JSON (in a stream, in one or two events; or drops or
repeats an event), and has a scripted upstream send it, for each upstream protocol (Chat
Completions, Anthropic Messages, Gemini, Responses) and each client protocol it is translated
for. A 200 answer is validated against the SDK's own types (``openai``, ``anthropic``,
``google-genai``), every event of a stream too; fewer streams are also read by each official
client's stream helper, which must reach the end or raise its SDK's API error.

Before, an id of the wrong type went through to the client as it came: ``"id": {…}`` in a
ChatCompletion or an Anthropic Message, ``"responseId": [false]`` in a Gemini answer, which
none of the SDKs' types admit (google-genai's validation rejects the whole answer).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from google import genai
from google.genai import types as genai_types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.security.answers import PAIRS, error_shape, header, request, whole
from tests.security.jsontree import paths, trees
from tests.support.procs import Proc

EXAMPLES = 8  # per upstream, client, sample and stream flag: 96 cells, about 770 answers
WHOLE: dict[str, TypeAdapter[Any]] = {
    "chat": TypeAdapter(ChatCompletion),
    "messages": TypeAdapter(Message),
    "gemini": TypeAdapter(genai_types.GenerateContentResponse),
    "responses": TypeAdapter(Response),
}
EVENT: dict[str, TypeAdapter[Any]] = {
    "chat": TypeAdapter(ChatCompletionChunk),
    "messages": TypeAdapter(RawMessageStreamEvent),
    "gemini": TypeAdapter(genai_types.GenerateContentResponse),
    "responses": TypeAdapter(ResponseStreamEvent),
}
# How each client's stream ends well (Gemini's has no marker of its own).
ENDS: dict[str, tuple[bytes, ...]] = {
    "chat": (b"data: [DONE]",),
    "messages": (b"event: message_stop",),
    "gemini": (),
    "responses": (b"event: response.completed", b"event: response.incomplete"),
}

_TOOL = {"type": "object", "properties": {"city": {"type": "string"}}}
# What the mock is asked for each upstream protocol's samples: (path, body with a tool and
# reasoning, plain body).
_ASK: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "chat": (
        "/v1/chat/completions",
        {
            "messages": [{"role": "user", "content": "use weather please"}],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": _TOOL}}],
            "reasoning_effort": "low",
        },
        {"messages": [{"role": "user", "content": "hello"}]},
    ),
    "messages": (
        "/v1/messages",
        {
            "max_tokens": 2000,
            "messages": [{"role": "user", "content": "use weather please"}],
            "tools": [{"name": "weather", "input_schema": _TOOL}],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        },
        {"max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]},
    ),
    "gemini": (
        "/v1beta/models/m:generateContent",
        {
            "contents": [{"role": "user", "parts": [{"text": "use weather please"}]}],
            "tools": [{"functionDeclarations": [{"name": "weather", "parameters": _TOOL}]}],
            "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
        },
        {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
    ),
    "responses": (
        "/v1/responses",
        {
            "input": "use weather please",
            "tools": [{"type": "function", "name": "weather", "parameters": _TOOL}],
            "reasoning": {"effort": "low", "summary": "auto"},
        },
        {"input": "hello"},
    ),
}

# Values the decoders read as tags, beside arbitrary ones.
_TAGS = [
    "text", "tool_use", "function_call", "STOP", "stop", "end_turn", "tool_calls",
    "message_stop", "response.completed", "content_block_delta", "input_json_delta",
    "text_delta", "thinking_delta", "MAX_TOKENS", "SAFETY", "reasoning",
]  # fmt: skip
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.just(10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(_TAGS)
)
values = trees(leaves, max_leaves=8)
_KEYS = st.sampled_from(["index", "type", "delta", "usage", "text", "arguments", "id", "x"])

Sample = dict[str, Any]  # {"json": a whole answer, "sse": [[event name or None, data], ...]}


def _events(text: str) -> list[list[str | None]]:
    out: list[list[str | None]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name = data = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        if data is not None:
            out.append([name, data])
    return out


@pytest.fixture(scope="module")
def samples(mock: Proc) -> dict[str, list[Sample]]:
    """Each upstream protocol's real answers (with a tool call and reasoning; plain text), as
    the mock provider gives them, whole and streamed."""
    auth = {"authorization": "Bearer k", "x-api-key": "k", "x-goog-api-key": "k"}
    out: dict[str, list[Sample]] = {}
    with httpx.Client(base_url=mock.url, timeout=20, headers=auth) as http:
        for upstream, (path, rich, plain) in _ASK.items():
            out[upstream] = []
            for body in (rich, plain):
                body = {"model": "m", **body} if upstream != "gemini" else body
                whole = http.post(path, json=body).json()
                if upstream == "gemini":
                    spath, sbody = path.replace(":generate", ":streamGenerate") + "?alt=sse", body
                else:
                    spath, sbody = path, {**body, "stream": True}
                streamed = _events(http.post(spath, json=sbody).text)
                out[upstream].append({"json": whole, "sse": streamed})
    return out


def _mutate(draw: st.DrawFn, data: Any) -> Any:
    for _ in range(draw(st.integers(1, 3))):
        options = list(paths(data))
        if not options:
            return draw(values)
        path = draw(st.sampled_from(options))
        target = data
        for key in path[:-1]:
            target = target[key]
        if draw(st.booleans()) and isinstance(target, dict):
            target[draw(_KEYS)] = draw(values)  # a key beside it
        else:
            target[path[-1]] = draw(values)
    return data


@st.composite
def answers(draw: st.DrawFn, sample: Sample, stream: bool) -> dict[str, Any]:
    """A scripted upstream answer: the sample with a few values replaced."""
    if not stream:
        return {"chunks": [json.dumps(_mutate(draw, copy.deepcopy(sample["json"])))]}
    events = copy.deepcopy(sample["sse"])
    action = draw(st.integers(0, 9))
    if action == 0 and len(events) > 1:
        del events[draw(st.integers(0, len(events) - 1))]
    elif action == 1:
        at = draw(st.integers(0, len(events) - 1))
        events.insert(at, list(events[at]))
    else:
        objects = [i for i, (_, data) in enumerate(events) if data and data.startswith("{")]
        for _ in range(draw(st.integers(1, 2))):
            at = draw(st.sampled_from(objects))
            events[at][1] = json.dumps(_mutate(draw, json.loads(str(events[at][1]))))
    chunks = [(f"event: {name}\n" if name else "") + f"data: {data}\n\n" for name, data in events]
    return {"type": "text/event-stream", "chunks": chunks}


@pytest.fixture
def gateway(answers_gateway: Proc) -> Proc:
    return answers_gateway


def _frames(data: bytes) -> Iterator[Any]:
    for name, event in _events(data.decode()):
        if event != "[DONE]":
            yield name, json.loads(str(event))


def check_stream(client: str, data: bytes) -> None:
    """Every event of the stream in the SDK's types, and an end: the protocol's own, or an
    error frame last."""
    frames = list(_frames(data))
    assert frames, data
    *events, (last_name, last) = frames
    failed = last_name == "error" or (client in ("chat", "gemini") and "error" in last)
    if failed:
        error_shape(client, last)
    else:
        events.append((last_name, last))
        assert not ENDS[client] or any(end in data for end in ENDS[client]), data[-400:]
    for _, event in events:
        EVENT[client].validate_python(event)


def _send(http: httpx.Client, client: str, upstream: str, stream: bool, answer: Any) -> None:
    path, body = request(client, f"to-{upstream}", stream)
    data = b""
    try:
        with http.stream("POST", path, json=body, headers=header(answer)) as reply:
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
    else:
        WHOLE[client].validate_python(json.loads(data))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_any_upstream_answer_reaches_the_client_in_its_sdks_types(
    gateway: Proc, samples: dict[str, list[Sample]], upstream: str, client: str, stream: bool
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        for sample in samples[upstream]:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(answer=answers(sample, stream))
            def check(answer: Any) -> None:
                _send(http, client, upstream, stream, answer)

            check()


def test_nothing_crashed_inside_the_gateway(gateway: Proc) -> None:
    output = gateway.output()
    assert "Traceback" not in output and "request failed" not in output


# An answer each upstream protocol might send, with an id that is not a string.
_ODD_IDS: dict[str, Any] = {
    "chat": {
        "id": {"a": 1},
        "object": "chat.completion",
        "created": "yesterday",
        "model": ["m"],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
        ],
    },
    "messages": {
        "id": [False],
        "type": "message",
        "role": "assistant",
        "model": 5,
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
    },
    "gemini": {
        "responseId": [False],
        "modelVersion": {"v": 1},
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}],
    },
}


@pytest.mark.parametrize("upstream", list(_ODD_IDS))
def test_an_upstream_id_of_the_wrong_type_is_replaced_for_every_sdk(
    gateway: Proc, upstream: str
) -> None:
    """Through the official clients: each reads the answer, with the gateway's own id."""
    headers = whole(_ODD_IDS[upstream])
    model = f"to-{upstream}"
    if upstream != "chat":
        chat = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        done = chat.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], extra_headers=headers
        )
        assert isinstance(done.id, str) and done.choices[0].message.content == "Hi"
        assert isinstance(done.created, int)
    if upstream != "messages":
        claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        message = claude.messages.create(
            model=model,
            max_tokens=9,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers=headers,
        )
        assert isinstance(message.id, str) and message.content[0].type == "text"
    if upstream != "gemini":
        gemini = genai.Client(
            api_key="k",
            http_options=genai_types.HttpOptions(base_url=gateway.url, headers=headers),
        )
        answer = gemini.models.generate_content(model=model, contents="hi")
        assert answer.text == "Hi" and answer.response_id is None
    responses = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    response = responses.responses.create(model=model, input="hi", extra_headers=headers)
    assert response.id.startswith("resp_") and response.output_text == "Hi"
    assert isinstance(response.created_at, float | int)


SDK_EXAMPLES = 4  # per pair and sample: 96 streams through the official clients
SDK_ERRORS = (openai.APIError, anthropic.APIError, genai.errors.APIError)


def _sdk_stream(gateway: Proc, client: str, model: str, headers: dict[str, str]) -> None:
    """A stream read by the official client's own stream helper, to its final answer (the
    helpers accumulate the events: a block, item or tool call they cannot place raises)."""
    chat: Any = [{"role": "user", "content": "hi"}]
    if client in ("chat", "responses"):
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        if client == "chat":
            with oa.chat.completions.stream(model=model, messages=chat, extra_headers=headers) as s:
                for _ in s:
                    pass
                s.get_final_completion()
            return
        with oa.responses.stream(model=model, input="hi", extra_headers=headers) as r:
            for _ in r:
                pass
            r.get_final_response()
        return
    if client == "messages":
        claude = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        with claude.messages.stream(
            model=model, max_tokens=99, messages=chat, extra_headers=headers
        ) as m:
            for _ in m:
                pass
            m.get_final_message()
        return
    options = genai_types.HttpOptions(base_url=gateway.url, headers=headers)
    gemini = genai.Client(api_key="k", http_options=options)  # held: closed once collected
    for _ in gemini.models.generate_content_stream(model=model, contents="hi"):
        pass


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_any_upstream_stream_is_read_by_the_official_clients_stream_helpers(
    gateway: Proc, samples: dict[str, list[Sample]], upstream: str, client: str
) -> None:
    """Each client's SDK reads the translated stream to its end, or raises its API error
    (the gateway's error frame or 502): never an exception of its own."""
    for sample in samples[upstream]:

        @settings(
            max_examples=SDK_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(answer=answers(sample, True))
        def check(answer: Any) -> None:
            with contextlib.suppress(*SDK_ERRORS):
                _sdk_stream(gateway, client, f"to-{upstream}", header(answer))

        check()


def _tool_block(index: int) -> list[str]:
    block = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    start = {"type": "content_block_start", "index": index, "content_block": block}
    delta = {"type": "content_block_delta", "index": index,
             "delta": {"type": "input_json_delta", "partial_json": "{}"}}  # fmt: skip
    return [_sse(start), _sse(delta), _sse({"type": "content_block_stop", "index": index})]


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


@pytest.mark.parametrize("client", ["chat", "responses", "gemini"])
@pytest.mark.parametrize("twice", ["same block started twice", "two blocks, one id"])
def test_a_tool_call_id_given_twice_is_the_upstreams_fault(
    gateway: Proc, client: str, twice: str
) -> None:
    """Found by the property test above: an Anthropic stream that started its tool block
    twice made the Responses SDK's stream helper raise its own RuntimeError ("conflicting
    output identities"), and every client got two calls it cannot tell apart when it sends
    their results back. Now the stream ends with the client's error frame (the upstream's
    fault), as for any other answer no client can read."""
    message = {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 1}}}  # fmt: skip
    if twice == "same block started twice":
        blocks = [*_tool_block(0)[:1], *_tool_block(0)]
    else:
        blocks = [*_tool_block(0), *_tool_block(1)]
    end = {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
           "usage": {"output_tokens": 11}}  # fmt: skip
    chunks = [_sse(message), *blocks, _sse(end), _sse({"type": "message_stop"})]
    answer = {"type": "text/event-stream", "chunks": chunks}
    with pytest.raises(SDK_ERRORS):
        _sdk_stream(gateway, client, "to-messages", header(answer))

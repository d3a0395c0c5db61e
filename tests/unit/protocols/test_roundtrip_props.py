"""Property tests: A -> B -> A keeps content, tools and parameters for all six cross pairs.

Conversations are generated in the IR, rendered once in protocol A (``body0``), carried through
B and back, and rendered in A again: the two A bodies must be equal. Fields that one side of a
pair cannot express are generated only for pairs that can carry them (see the matrix doc).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Part,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.anthropic import response as an_resp
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.gemini import response as gm_resp
from turnout.protocols.openai import request as oa_req
from turnout.protocols.openai import response as oa_resp

REQ = {"openai": oa_req, "anthropic": an_req, "gemini": gm_req}
RESP = {"openai": oa_resp, "anthropic": an_resp, "gemini": gm_resp}
PAIRS = [(a, b) for a, b in itertools.permutations(REQ, 2)]

words = st.text(alphabet="abcdefghij klmnopqrstuvwxyz.,!?éü", min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s != ""
)
names = st.sampled_from(["get_weather", "get_time", "search_docs"])
json_args = st.dictionaries(
    st.sampled_from(["city", "tz", "q", "n"]),
    st.one_of(words, st.integers(-1000, 1000), st.booleans()),
    max_size=3,
)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@st.composite
def media(draw: st.DrawFn) -> Part:
    kind = draw(st.sampled_from(["text", "text", "b64", "url"]))
    if kind == "text":
        return TextPart(draw(words))
    if kind == "b64":
        return ImagePart(
            media_type="image/png", data=draw(st.sampled_from(["iVBORw0KGgo=", "R0lGODlhAQABAA=="]))
        )
    return ImagePart(
        url=draw(st.sampled_from(["https://example.com/a.png", "https://example.com/b.jpg"]))
    )


@st.composite
def conversation(draw: st.DrawFn, pair: tuple[str, str]) -> list[Message]:
    messages: list[Message] = [Message("user", draw(st.lists(media(), min_size=1, max_size=3)))]
    counter = itertools.count()
    for _ in range(draw(st.integers(0, 2))):
        text = draw(st.one_of(st.none(), words))
        calls = [
            ToolCallPart(f"call_{next(counter)}", draw(names), draw(json_args))
            for _ in range(draw(st.integers(0 if text else 1, 2)))
        ]
        said: list[Part] = [TextPart(text)] if text else []
        messages.append(Message("assistant", [*said, *calls]))
        follow: list[Part] = []
        for call in calls:
            body = draw(st.one_of(words, json_args.map(lambda d: orjson.dumps(d).decode())))
            error = draw(st.booleans()) if "openai" not in pair else False
            follow.append(ToolResultPart(call.id, call.name, [TextPart(body)], is_error=error))
        if not calls or draw(st.booleans()):
            follow.append(TextPart(draw(words)))
        messages.append(Message("user", follow))
    return messages


@st.composite
def requests(draw: st.DrawFn, pair: tuple[str, str]) -> IRRequest:
    a, _ = pair
    tools = [
        Tool(n, draw(st.one_of(st.none(), words)), SCHEMA)
        for n in draw(st.lists(names, unique=True, max_size=3))
    ]
    choice = None
    if tools and draw(st.booleans()) is True:
        mode: Any = draw(st.sampled_from(["auto", "none", "required", "tool"]))
        choice = ToolChoice(mode, name=tools[0].name if mode == "tool" else None)
    reasoning = None
    max_tokens = draw(st.integers(1, 4000))
    if draw(st.booleans()):
        effort = draw(st.sampled_from(["low", "medium", "high"]))
        budget = {"low": 2048, "medium": 8192, "high": 24576}[effort]
        reasoning = (
            Reasoning(True, effort=effort, include_thoughts=True)
            if a == "openai"
            else Reasoning(True, budget, include_thoughts=True)
        )
        max_tokens += 30000
    fmt = None
    if not tools and reasoning is None and draw(st.booleans()):
        fmt = ResponseFormat("json_schema", SCHEMA, name="response")
    no_gemini, no_anthropic, no_openai = (
        "gemini" not in pair,
        "anthropic" not in pair,
        ("openai" not in pair),
    )
    sampling = Sampling(
        max_tokens=max_tokens,
        temperature=draw(st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0]))),
        top_p=draw(st.one_of(st.none(), st.sampled_from([0.9, 1.0]))),
        top_k=draw(st.one_of(st.none(), st.integers(1, 100))) if no_openai else None,
        stop=draw(st.one_of(st.none(), st.lists(words, min_size=1, max_size=3))),
        seed=draw(st.one_of(st.none(), st.integers(0, 999))) if no_anthropic else None,
        presence_penalty=draw(st.one_of(st.none(), st.just(0.5))) if no_anthropic else None,
        frequency_penalty=draw(st.one_of(st.none(), st.just(0.2))) if no_anthropic else None,
    )
    return IRRequest(
        model="m",
        source="test",
        system=draw(st.lists(words.map(TextPart), max_size=2)),
        messages=draw(conversation(pair)),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=(
            draw(st.one_of(st.none(), st.just(False)))
            if no_gemini and choice and choice.mode != "none"
            else None
        ),
        sampling=sampling,
        response_format=fmt,
        reasoning=reasoning,
        stream=draw(st.booleans()),
        user=draw(st.one_of(st.none(), st.just("user-42"))) if no_gemini else None,
    )


def _to_ir(protocol: str, body: dict[str, Any], stream: bool) -> IRRequest:
    if protocol == "gemini":
        return gm_req.to_ir(body, model="m", stream=stream)
    return REQ[protocol].to_ir(body)  # type: ignore[no-any-return]


def _normalise(protocol: str, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if protocol == "openai":
        body.pop("stream_options", None)  # always forced on for translated streams
    return body


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_request_round_trip(pair: tuple[str, str], data: st.DataObject) -> None:
    a, b = pair
    ir0 = data.draw(requests(pair))
    body0 = REQ[a].from_ir(ir0, "m")
    ir1 = _to_ir(a, body0, ir0.stream)
    body_b = REQ[b].from_ir(ir1, "m")
    ir2 = _to_ir(b, body_b, ir0.stream)
    body1 = REQ[a].from_ir(ir2, "m")
    assert _normalise(a, body1) == _normalise(a, body0)


@st.composite
def responses(draw: st.DrawFn, pair: tuple[str, str]) -> IRResponse:
    text = draw(st.one_of(st.none(), words))
    calls = [
        ToolCallPart(f"toolu_{i}", draw(names), draw(json_args))
        for i in range(draw(st.integers(0 if text else 1, 3)))
    ]
    content: list[Part] = [TextPart(text)] if text else []
    content.extend(calls)
    if calls:
        finish = FinishReason.TOOL_CALLS
    else:
        finish = draw(
            st.sampled_from([FinishReason.STOP, FinishReason.LENGTH, FinishReason.CONTENT_FILTER])
        )
    inp, out = draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000))
    usage = Usage(
        inp,
        out,
        cached_input_tokens=draw(st.integers(0, inp)),
        reasoning_tokens=draw(st.integers(0, out)) if "anthropic" not in pair else 0,
        total_tokens=inp + out,
    )
    return IRResponse(
        id="resp_1", content=content, finish_reason=finish, usage=usage, created=1700000000
    )


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_response_round_trip(pair: tuple[str, str], data: st.DataObject) -> None:
    a, b = pair
    resp0 = data.draw(responses(pair))
    body0 = RESP[a].from_ir(resp0, "public")
    body_b = RESP[b].from_ir(RESP[a].to_ir(body0), "public")
    back = RESP[b].to_ir(body_b)
    back.created = 1700000000
    assert RESP[a].from_ir(back, "public") == body0

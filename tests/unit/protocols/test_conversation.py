"""Two-turn tool conversation with reasoning through every cross-protocol cell.

Turn 1: the upstream answers with thinking + signature + a tool call; the client receives it in
its own dialect (non-stream and stream), parsed by its official SDK. Turn 2: the client's SDK
echoes the assistant turn as agent loops do, plus the tool result; the request translated for
the upstream must carry the original signature where that provider expects it.
"""

from __future__ import annotations

import itertools
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gt

from tests.unit.protocols import sdk
from tests.unit.protocols.fixtures import ANTHROPIC_SIG, GEMINI_SIG, UPSTREAM_STREAMS
from tests.unit.protocols.helpers import pipeline
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.anthropic import response as an_resp
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.gemini import response as gm_resp
from turnout.protocols.openai import request as oa_req
from turnout.protocols.openai import response as oa_resp

THOUGHT = "Weather needs a tool."
UPSTREAM_BODIES: dict[str, dict[str, Any]] = {
    "openai": {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {
                    "name": "get_weather", "arguments": '{"city":"Paris"}'}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
    "anthropic": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "thinking", "thinking": THOUGHT, "signature": ANTHROPIC_SIG},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                     "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5}},
    "gemini": {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": THOUGHT, "thought": True}, {"text": "Let me check."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
             "thoughtSignature": GEMINI_SIG}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                          "totalTokenCount": 15},
        "modelVersion": "gemini-x", "responseId": "resp1"},
}  # fmt: skip
RESPONSE_TO_IR = {"openai": oa_resp.to_ir, "anthropic": an_resp.to_ir, "gemini": gm_resp.to_ir}
RESPONSE_FROM_IR = {
    "openai": oa_resp.from_ir,
    "anthropic": an_resp.from_ir,
    "gemini": gm_resp.from_ir,
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PROTOCOLS = ["openai", "anthropic", "gemini"]
CELLS = [(c, u) for c, u in itertools.product(PROTOCOLS, PROTOCOLS) if c != u]


class Capture:
    """A transport that records the request body and answers with a canned body."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.body: dict[str, Any] = {}
        self.path = ""

    def __call__(self, request: Any) -> Any:
        self.body = orjson.loads(request.content)
        self.path = request.url.path
        mod = httpx2 if isinstance(request, httpx2.Request) else httpx
        return mod.Response(200, headers={"content-type": "application/json"}, content=self.reply)


def _client_turn1(client: str, upstream: str, stream: bool) -> Any:
    """The SDK object the client gets back for turn 1."""
    if stream:
        raw = pipeline(upstream, client, [_tool_stream(upstream)])
        if client == "openai":
            return sdk.openai_stream(raw)[1].choices[0].message
        if client == "anthropic":
            return sdk.anthropic_stream(raw)[1].content
        chunks = sdk.genai_stream(raw)
        parts = [p for ch in chunks for p in ch.candidates[0].content.parts]
        return gt.Content(role="model", parts=parts)
    body = RESPONSE_FROM_IR[client](RESPONSE_TO_IR[upstream](UPSTREAM_BODIES[upstream]), "pub")
    raw = orjson.dumps(body)
    if client == "openai":
        result = sdk.openai_client(raw, stream=False).chat.completions.create(
            model="m", messages=sdk.MESSAGES
        )
        return result.choices[0].message
    if client == "anthropic":
        return (
            sdk.anthropic_client(raw, stream=False)
            .messages.create(model="m", max_tokens=10, messages=sdk.MESSAGES)
            .content
        )
    out = sdk.genai_client(raw, stream=False).models.generate_content(model="m", contents="hi")
    assert out.candidates
    return out.candidates[0].content


def _tool_stream(upstream: str) -> bytes:
    if upstream != "gemini":
        return UPSTREAM_BODIES_STREAM[upstream]
    return UPSTREAM_STREAMS["gemini"]["tool"]


def _single_tool_streams() -> dict[str, bytes]:
    from tests.unit.protocols.fixtures import sse

    oa = UPSTREAM_BODIES["openai"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": oa["id"],
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "g",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    openai_stream = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let me check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}),
        chunk({}, "tool_calls"),
        done=True,
    )
    an = UPSTREAM_BODIES["anthropic"]
    anthropic_stream = sse(
        {
            "type": "message_start",
            "message": {
                **an,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": THOUGHT},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": ANTHROPIC_SIG},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "text", "text": "Let me check."},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
        events=True,
    )
    return {"openai": openai_stream, "anthropic": anthropic_stream}


UPSTREAM_BODIES_STREAM = _single_tool_streams()
OK_REPLY = {
    "openai": {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ]
    },
    "anthropic": {
        "content": [{"type": "text", "text": "ok"}],
        "role": "assistant",
        "type": "message",
        "stop_reason": "end_turn",
    },
    "gemini": {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}]},
}


def _client_turn2(client: str, turn1: Any) -> tuple[dict[str, Any], str]:
    """The client echoes turn 1 and answers the call, as an agent loop does."""
    capture = Capture(orjson.dumps(OK_REPLY[client]))
    if client == "openai":
        call = turn1.tool_calls[0]
        http_openai = httpx2.Client(transport=httpx2.MockTransport(capture))
        openai_turn2: Any = dict(
            model="m",
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                turn1,
                {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
            ],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}],
            reasoning_effort="medium",
        )
        openai.OpenAI(
            api_key="k", base_url="http://gw/v1", http_client=http_openai
        ).chat.completions.create(**openai_turn2)
    elif client == "anthropic":
        call = next(b for b in turn1 if b.type == "tool_use")
        http2 = httpx2.Client(transport=httpx2.MockTransport(capture))
        anthropic_turn2: Any = dict(
            model="m",
            max_tokens=4000,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": turn1},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call.id, "content": '{"temp": 21}'}
                    ],
                },
            ],
            tools=[{"name": "get_weather", "input_schema": SCHEMA}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
        anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=http2).messages.create(
            **anthropic_turn2
        )
    else:
        call = next(p.function_call for p in turn1.parts if p.function_call)
        options = gt.HttpOptions(
            base_url="http://gw/",
            api_version="v1beta",
            httpx_client=httpx.Client(transport=httpx.MockTransport(capture)),
        )
        genai.Client(api_key="k", http_options=options).models.generate_content(
            model="m",
            contents=[
                gt.Content(role="user", parts=[gt.Part(text="Weather in Paris?")]),
                turn1,
                gt.Content(
                    role="user",
                    parts=[gt.Part.from_function_response(name=call.name, response={"temp": 21})],
                ),
            ],
            config=gt.GenerateContentConfig(
                thinking_config=gt.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
                tools=[
                    gt.Tool(
                        function_declarations=[
                            gt.FunctionDeclaration(
                                name="get_weather", parameters_json_schema=SCHEMA
                            )
                        ]
                    )
                ],
            ),
        )
    return capture.body, capture.path


REQUEST_TO_IR = {"openai": oa_req.to_ir, "anthropic": an_req.to_ir, "gemini": gm_req.to_ir}
REQUEST_FROM_IR = {"openai": oa_req.from_ir, "anthropic": an_req.from_ir, "gemini": gm_req.from_ir}


def _assert_upstream_turn2(upstream: str, body: dict[str, Any]) -> None:
    if upstream == "anthropic":
        assistant, result = body["messages"][1], body["messages"][2]
        assert assistant["role"] == "assistant"
        assert assistant["content"][0] == {
            "type": "thinking",
            "thinking": THOUGHT,
            "signature": ANTHROPIC_SIG,
        }
        tool_use = next(b for b in assistant["content"] if b["type"] == "tool_use")
        assert tool_use["id"] == "toolu_1" and tool_use["input"] == {"city": "Paris"}
        assert result["content"][0]["type"] == "tool_result"
        assert result["content"][0]["tool_use_id"] == "toolu_1"
        assert body["thinking"]["type"] == "enabled"
    elif upstream == "gemini":
        model, result = body["contents"][1], body["contents"][2]
        assert model["role"] == "model"
        call = next(p for p in model["parts"] if "functionCall" in p)
        assert call["thoughtSignature"] == GEMINI_SIG
        assert call["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
        signed = [p for p in model["parts"] if "thoughtSignature" in p]
        assert len(signed) == 1
        response = result["parts"][0]["functionResponse"]
        assert response["name"] == "get_weather"
        assert response["response"] == {"temp": 21}
    else:
        assistant = body["messages"][1]
        assert assistant["tool_calls"][0]["id"] == "call_1"
        assert orjson.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
            "city": "Paris"
        }
        tool = body["messages"][2]
        assert (tool["role"], tool["tool_call_id"]) == ("tool", "call_1")
        assert orjson.loads(tool["content"]) == {"temp": 21}


@pytest.mark.parametrize(("client", "upstream"), CELLS)
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_signature_survives_two_turns(client: str, upstream: str, stream: bool) -> None:
    turn1 = _client_turn1(client, upstream, stream)
    body, path = _client_turn2(client, turn1)
    if client == "gemini":
        ir = gm_req.to_ir(body, model=path.rsplit("/", 1)[-1].split(":")[0])
    else:
        ir = REQUEST_TO_IR[client](body)
    upstream_body = REQUEST_FROM_IR[upstream](ir, "upstream-model")
    _assert_upstream_turn2(upstream, upstream_body)

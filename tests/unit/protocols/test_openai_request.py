"""OpenAI Chat Completions request -> IR -> Anthropic / Gemini, with realistic bodies."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.ir import ImagePart, TextPart, ThinkingPart, ToolCallPart, TranslationError
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.anthropic.messages import JSON_TOOL_NAME
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.openai import request as oa_req
from turnout.protocols.signatures import encode_tool_call_id

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
BODY: dict[str, Any] = {
    "model": "gpt-x",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather here?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg", "detail": "low"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "25C"},
        {"role": "user", "content": "Thanks. Which is warmer?"},
    ],
    "tools": TOOLS,
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "max_completion_tokens": 500,
    "temperature": 0.2,
    "top_p": 0.9,
    "stop": "END",
    "seed": 7,
    "stream": True,
    "stream_options": {"include_usage": True},
    "user": "u-1",
}  # fmt: skip


def test_to_ir_maps_every_field() -> None:
    ir = oa_req.to_ir(BODY)
    assert [p.text for p in ir.system] == ["You are terse.", "Use tools."]
    assert [m.role for m in ir.messages] == ["user", "assistant", "tool", "tool", "user"]
    user = ir.messages[0].content
    assert isinstance(user[1], ImagePart) and user[1].data == "iVBORw0KGgo="
    assert user[1].media_type == "image/png"
    assert isinstance(user[2], ImagePart) and user[2].url == "https://x.test/a.jpg"
    call = ir.messages[1].content[0]
    assert isinstance(call, ToolCallPart) and call.arguments == {"city": "Paris"}
    assert call.raw_arguments == '{"city":"Paris"}'
    assert ir.messages[2].content[0].name == "get_weather"  # type: ignore[union-attr]
    assert ir.sampling.stop == ["END"] and ir.sampling.max_tokens == 500
    assert ir.stream and ir.include_usage and ir.user == "u-1"
    assert ir.parallel_tool_calls is False and ir.tool_choice is not None
    assert ir.tool_choice.mode == "required"


def test_to_anthropic() -> None:
    body = an_req.from_ir(oa_req.to_ir(BODY), "claude-x")
    assert body["model"] == "claude-x" and body["max_tokens"] == 500
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Use tools."},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    image = body["messages"][0]["content"][1]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert body["messages"][0]["content"][2]["source"] == {
        "type": "url",
        "url": "https://x.test/a.jpg",
    }
    results = body["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert results[1] == {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"}
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["tools"][0]["input_schema"]["properties"]["city"] == {"type": "string"}
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-1"}
    assert "seed" not in body  # documented: dropped, best-effort only on OpenAI


def test_to_gemini() -> None:
    body = gm_req.from_ir(oa_req.to_ir(BODY), "gemini-x")
    assert body["systemInstruction"] == {
        "parts": [{"text": "You are terse."}, {"text": "Use tools."}]
    }
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user"]
    user = body["contents"][0]["parts"]
    assert user[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert user[2] == {"fileData": {"fileUri": "https://x.test/a.jpg"}}
    calls = body["contents"][1]["parts"]
    assert calls[1] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_2"}
    }
    responses = body["contents"][2]["parts"]
    assert responses[0]["functionResponse"] == {
        "name": "get_weather",
        "response": {"output": "21C"},
        "id": "call_1",
    }
    assert responses[2] == {"text": "Thanks. Which is warmer?"}
    gen = body["generationConfig"]
    assert gen == {
        "maxOutputTokens": 500,
        "temperature": 0.2,
        "topP": 0.9,
        "seed": 7,
        "stopSequences": ["END"],
    }
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["type"] == "object"


def test_same_family_keeps_unknown_fields() -> None:
    body = {**BODY, "store": True, "prediction": None, "some_future_field": {"x": 1}}
    out = oa_req.from_ir(oa_req.to_ir(body), "gpt-x")
    assert out["some_future_field"] == {"x": 1} and out["store"] is True
    assert out["messages"][1]["role"] == "developer"


@pytest.mark.parametrize(("field", "value"), [
    ("n", 2), ("logprobs", True), ("top_logprobs", 3), ("logit_bias", {"1": 5}),
    ("modalities", ["text", "audio"]), ("some_future_field", 1), ("frequency_penalty", 0.5),
])  # fmt: skip
def test_untranslatable_fields_raise_naming_the_field(field: str, value: Any) -> None:
    ir = oa_req.to_ir({**BODY, field: value})
    with pytest.raises(TranslationError) as exc:
        an_req.from_ir(ir, "claude-x")
    assert exc.value.field == field


def test_harmless_fields_are_dropped() -> None:
    ir = oa_req.to_ir(
        {
            **BODY,
            "store": True,
            "service_tier": "auto",
            "logprobs": False,
            "n": 1,
            "metadata": {"k": "v"},
        }
    )
    body = an_req.from_ir(ir, "claude-x")
    assert "store" not in body and body["metadata"] == {"user_id": "u-1"}


def test_reasoning_effort_maps_to_budgets() -> None:
    ir = oa_req.to_ir(
        {**BODY, "reasoning_effort": "high", "max_completion_tokens": 1000, "temperature": None}
    )
    body = an_req.from_ir(ir, "claude-x")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert body["max_tokens"] == 1000 + 24576  # the budget must fit under max_tokens
    gen = gm_req.from_ir(ir, "g")["generationConfig"]
    assert gen["thinkingConfig"] == {"thinkingBudget": 24576, "includeThoughts": True}


def test_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": schema, "strict": True},
        },
    }
    ir = oa_req.to_ir(body)
    gen = gm_req.from_ir(ir, "g")["generationConfig"]
    assert gen == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    anth = an_req.from_ir(ir, "c")
    assert anth["tools"][0]["name"] == JSON_TOOL_NAME
    assert anth["tools"][0]["input_schema"] == schema
    assert anth["tool_choice"] == {"type": "tool", "name": JSON_TOOL_NAME}
    thinking = an_req.from_ir(oa_req.to_ir({**body, "reasoning_effort": "low"}), "c")
    assert thinking["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in thinking
    with pytest.raises(TranslationError) as exc:
        an_req.from_ir(oa_req.to_ir({**body, "tools": TOOLS}), "c")
    assert exc.value.field == "response_format"
    json_object = an_req.from_ir(
        oa_req.to_ir({**body, "response_format": {"type": "json_object"}}), "c"
    )
    assert json_object["tools"][0]["input_schema"] == {"type": "object"}


def test_signature_carried_in_tool_call_id_is_restored_and_stripped() -> None:
    thinking = ThinkingPart("plan", "SIG", source="anthropic")
    carried = encode_tool_call_id("toolu_9", [thinking])
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "ok",
                "tool_calls": [
                    {
                        "id": carried,
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": carried, "content": "done"},
        ],
    }
    ir = oa_req.to_ir(body)
    assert ir.messages[1].content[0] == thinking
    assert isinstance(ir.messages[1].content[1], TextPart)
    out = an_req.from_ir(ir, "c")
    assert out["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "plan",
        "signature": "SIG",
    }
    assert out["messages"][1]["content"][2]["id"] == "toolu_9"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "toolu_9"
    # toward an OpenAI upstream the carrier is stripped and thinking dropped
    plain = oa_req.from_ir(ir, "gpt")
    assert plain["messages"][1]["tool_calls"][0]["id"] == "toolu_9"


def test_invalid_tool_arguments_raise() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                ],
            }
        ],
    }
    with pytest.raises(TranslationError, match="arguments"):
        oa_req.to_ir(body)


def test_top_k_cannot_reach_openai() -> None:
    ir = an_req.to_ir(
        {"model": "c", "max_tokens": 5, "top_k": 5, "messages": [{"role": "user", "content": "hi"}]}
    )
    with pytest.raises(TranslationError) as exc:
        oa_req.from_ir(ir, "gpt")
    assert exc.value.field == "top_k"

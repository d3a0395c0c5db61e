"""Gemini generateContent request -> IR -> OpenAI / Anthropic, with realistic bodies."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.ir import ToolCallPart, ToolResultPart, TranslationError
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.openai import request as oa_req

BODY: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [
        {"role": "user", "parts": [
            {"text": "Weather in Paris and Rome?"},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/map.png"}}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
             "thoughtSignature": "R1NJRw=="},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_weather", "response": {"output": "25C"}}}]},
    ],
    "tools": [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING",
                                                                  "nullable": True}},
                       "propertyOrdering": ["city"]}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                             "allowedFunctionNames": ["get_weather"]}},
    "generationConfig": {"maxOutputTokens": 300, "temperature": 0.1, "topK": 20,
                         "stopSequences": ["x"], "responseMimeType": "application/json",
                         "responseSchema": {"type": "OBJECT",
                                            "properties": {"t": {"type": "NUMBER"}}}},
    "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
}  # fmt: skip


def test_to_ir_pairs_idless_calls_and_results() -> None:
    ir = gm_req.to_ir(BODY, model="gemini-x", stream=True)
    assert ir.model == "gemini-x" and ir.stream
    calls = [p for p in ir.messages[1].content if isinstance(p, ToolCallPart)]
    results = [p for p in ir.messages[2].content if isinstance(p, ToolResultPart)]
    assert [c.id for c in calls] == [r.id for r in results]
    assert len({c.id for c in calls}) == 2
    assert results[0].text() == '{"temp":21}' and results[1].text() == "25C"
    assert ir.tools[0].parameters == {
        "type": "object",
        "properties": {"city": {"type": ["string", "null"]}},
    }
    assert ir.tool_choice is not None and ir.tool_choice.name == "get_weather"
    assert ir.response_format is not None
    assert ir.response_format.schema == {"type": "object", "properties": {"t": {"type": "number"}}}


def test_snake_case_is_accepted() -> None:
    body = {
        "system_instruction": {"parts": [{"text": "s"}]},
        "contents": [
            {"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AAA="}}]}
        ],
        "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": 1024}},
    }
    ir = gm_req.to_ir(body)
    assert ir.system[0].text == "s" and ir.sampling.max_tokens == 5
    assert ir.reasoning is not None and ir.reasoning.budget_tokens == 1024


def test_to_openai() -> None:
    body = oa_req.from_ir(_without_top_k(gm_req.to_ir(BODY, model="g")), "gpt")
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://x.test/map.png"},
    }
    calls = body["messages"][2]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert body["messages"][3]["tool_call_id"] == calls[0]["id"]
    assert body["messages"][4]["tool_call_id"] == calls[1]["id"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"]["json_schema"]["schema"]["properties"]["t"] == {"type": "number"}


def test_to_anthropic_merges_and_names() -> None:
    body = an_req.from_ir(
        gm_req.to_ir(
            {
                **BODY,
                "generationConfig": {
                    "maxOutputTokens": 300,
                    "thinkingConfig": {"thinkingBudget": -1},
                },
            },
            model="g",
        ),
        "c",
    )
    assistant = body["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["tool_use", "tool_use"]  # Gemini sig dropped
    results = body["messages"][2]["content"]
    assert results[0]["tool_use_id"] == assistant[0]["id"]
    assert results[1]["content"] == "25C"
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] == 300 + 8192


def test_cached_content_and_unknown_mime_raise() -> None:
    with pytest.raises(TranslationError) as exc:
        an_req.from_ir(gm_req.to_ir({**BODY, "cachedContent": "cachedContents/1"}), "c")
    assert exc.value.field == "cachedContent"
    with pytest.raises(TranslationError):
        gm_req.to_ir({"contents": [], "generationConfig": {"responseMimeType": "text/x.enum"}})


def test_same_family_keeps_schema_dialect_and_extras() -> None:
    out = gm_req.from_ir(gm_req.to_ir(BODY, model="g"), "g")
    assert out["generationConfig"]["responseSchema"] == BODY["generationConfig"]["responseSchema"]
    assert out["tools"][0]["functionDeclarations"][0]["parameters"]["type"] == "OBJECT"
    assert out["safetySettings"] == BODY["safetySettings"]
    model_parts = out["contents"][1]["parts"]
    assert model_parts[0]["thoughtSignature"] == "R1NJRw=="
    assert "id" not in model_parts[0]["functionCall"]  # invented ids never reach Gemini


def _without_top_k(ir: Any) -> Any:
    ir.sampling.top_k = None
    return ir

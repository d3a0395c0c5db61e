"""Anthropic Messages request -> IR -> OpenAI / Gemini, with realistic bodies."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.ir import TranslationError
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.openai import request as oa_req

CACHE = {"type": "ephemeral"}
BODY: dict[str, Any] = {
    "model": "claude-x",
    "max_tokens": 20000,
    "system": [{"type": "text", "text": "Long policy...", "cache_control": CACHE}],
    "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                         "data": "/9j/4AAQ"}},
            {"type": "text", "text": "What is this?", "cache_control": CACHE}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Look it up.", "signature": "SIG1"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
             "content": [{"type": "text", "text": "timeout"}]},
            {"type": "text", "text": "Try again?"}]},
    ],
    "tools": [{"name": "lookup", "description": "Search", "cache_control": CACHE,
               "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "thinking": {"type": "enabled", "budget_tokens": 8000},
    "temperature": 1,
    "top_k": 40,
    "stop_sequences": ["\n\nHuman:"],
    "metadata": {"user_id": "u-7"},
    "stream": True,
}  # fmt: skip


def test_to_openai() -> None:
    ir = an_req.to_ir(BODY)
    ir.sampling.top_k = None  # OpenAI has no top_k (tested separately)
    body = oa_req.from_ir(ir, "gpt-x")
    assert body["messages"][0] == {"role": "system", "content": "Long policy..."}
    user = body["messages"][1]["content"]
    assert user[0] == {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    assistant = body["messages"][2]
    assert assistant["content"] == "Checking."
    assert assistant["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q":"cat"}'},
        }
    ]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "timeout"}
    assert body["messages"][4] == {"role": "user", "content": "Try again?"}
    assert body["reasoning_effort"] == "medium"
    assert body["parallel_tool_calls"] is False and body["tool_choice"] == "auto"
    assert body["max_completion_tokens"] == 20000 and body["user"] == "u-7"
    assert body["stop"] == ["\n\nHuman:"]
    assert body["stream_options"] == {"include_usage": True}
    assert "cache_control" not in str(body)


def test_to_gemini() -> None:
    body = gm_req.from_ir(an_req.to_ir(BODY), "g")
    assert body["contents"][0]["parts"][0] == {
        "inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}
    }
    model = body["contents"][1]["parts"]
    # an Anthropic signature is meaningless to Gemini: the thinking block is not sent
    assert model == [
        {"text": "Checking."},
        {"functionCall": {"name": "lookup", "args": {"q": "cat"}, "id": "toolu_1"}},
    ]
    result = body["contents"][2]["parts"][0]["functionResponse"]
    assert result == {"name": "lookup", "response": {"error": "timeout"}, "id": "toolu_1"}
    gen = body["generationConfig"]
    assert gen["topK"] == 40 and gen["thinkingConfig"] == {
        "thinkingBudget": 8000,
        "includeThoughts": True,
    }


def test_cache_control_kept_for_anthropic_targets() -> None:
    body = an_req.from_ir(an_req.to_ir(BODY), "claude-y")
    assert body["system"][0]["cache_control"] == CACHE
    assert body["messages"][0]["content"][1]["cache_control"] == CACHE
    assert body["tools"][0]["cache_control"] == CACHE
    assert body["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "Look it up.",
        "signature": "SIG1",
    }
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["model"] == "claude-y" and body["metadata"] == {"user_id": "u-7"}


def test_tool_choice_any_and_tool() -> None:
    for choice, expected in (
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "lookup"}, {"type": "function", "function": {"name": "lookup"}}),
        ({"type": "none"}, "none"),
    ):
        body = oa_req.from_ir(an_req.to_ir({**BODY, "tool_choice": choice, "top_k": None}), "g")
        assert body["tool_choice"] == expected


def test_server_tools_and_documents() -> None:
    server = {**BODY, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with pytest.raises(TranslationError) as exc:
        gm_req.from_ir(an_req.to_ir(server), "g")
    assert exc.value.field == "tools[0]"
    pdf = {
        "model": "c",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBERi0=",
                        },
                    }
                ],
            }
        ],
    }
    gem = gm_req.from_ir(an_req.to_ir(pdf), "g")
    assert gem["contents"][0]["parts"][0] == {
        "inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}
    }
    oa = oa_req.from_ir(an_req.to_ir(pdf), "gpt")
    assert oa["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}
    ]


def test_thinking_disabled_and_output_config() -> None:
    body = {
        "model": "c",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}],
        "thinking": {"type": "disabled"},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }
    ir = an_req.to_ir(body)
    gen = gm_req.from_ir(ir, "g")["generationConfig"]
    assert gen["thinkingConfig"] == {"thinkingBudget": 0}
    assert gen["responseMimeType"] == "application/json"
    assert oa_req.from_ir(ir, "gpt")["response_format"]["type"] == "json_schema"


def test_mid_conversation_system_messages_join_the_system_prompt() -> None:
    # Claude Code sends its environment as a system message after the user's turn; as a user
    # turn it would pass for the user's words on an OpenAI or Gemini deployment.
    body: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 100,
        "system": "You are Claude Code.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Run the tests."}]},
            {"role": "system", "content": [{"type": "text", "text": "# Environment\ncwd: /w"}]},
        ],
    }
    ir = an_req.to_ir(body)
    assert [m.role for m in ir.messages] == ["user"]
    assert [p.text for p in ir.system] == ["You are Claude Code.", "# Environment\ncwd: /w"]
    out = oa_req.from_ir(ir, "gpt-x")
    assert [m["role"] for m in out["messages"]] == ["system", "user"]
    assert out["messages"][-1]["content"] == "Run the tests."
    gm = gm_req.from_ir(ir, "gemini-x")
    assert "# Environment" in str(gm["systemInstruction"]) and len(gm["contents"]) == 1

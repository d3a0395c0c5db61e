"""Non-stream responses: content, finish reasons, usage normalisation, reasoning carriers."""

from __future__ import annotations

import pytest

from turnout.ir import FinishReason, TextPart, ThinkingPart, ToolCallPart, Usage
from turnout.protocols.anthropic import response as an_resp
from turnout.protocols.anthropic.messages import JSON_TOOL_NAME
from turnout.protocols.gemini import response as gm_resp
from turnout.protocols.openai import response as oa_resp
from turnout.protocols.signatures import GEMINI_IN_ANTHROPIC, decode_tool_call_id

ANTHROPIC = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
    "content": [{"type": "thinking", "thinking": "hmm", "signature": "SIG"},
                {"type": "redacted_thinking", "data": "REDACTED"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 3,
              "cache_read_input_tokens": 20},
}  # fmt: skip


def test_anthropic_usage_is_normalised_to_include_cache() -> None:
    ir = an_resp.to_ir(ANTHROPIC)
    assert ir.usage == Usage(33, 5, cached_input_tokens=20, cache_creation_tokens=3)
    oa = oa_resp.from_ir(ir, "pub")
    assert oa["usage"]["prompt_tokens"] == 33
    assert oa["usage"]["prompt_tokens_details"] == {"cached_tokens": 20}
    assert an_resp.from_ir(ir, "pub")["usage"] == ANTHROPIC["usage"]


def test_anthropic_to_openai_carries_thinking_in_tool_call_id() -> None:
    oa = oa_resp.from_ir(an_resp.to_ir(ANTHROPIC), "pub")
    message = oa["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["reasoning_content"] == "hmm"
    assert oa["choices"][0]["finish_reason"] == "tool_calls"
    call_id, parts = decode_tool_call_id(message["tool_calls"][0]["id"])
    assert call_id == "toolu_1"
    assert parts == [
        ThinkingPart("hmm", "SIG", source="anthropic"),
        ThinkingPart(redacted="REDACTED", source="anthropic"),
    ]


def test_anthropic_to_gemini_wraps_signatures_in_envelopes() -> None:
    gm = gm_resp.from_ir(an_resp.to_ir(ANTHROPIC), "pub")
    parts = gm["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and parts[0]["text"] == "hmm"
    assert parts[0]["thoughtSignature"] != "SIG"
    back = gm_resp.to_ir(gm)
    assert back.content[0] == ThinkingPart("hmm", "SIG", source="anthropic")
    assert back.content[1] == ThinkingPart("", None, "REDACTED", source="anthropic")
    assert gm["candidates"][0]["finishReason"] == "STOP"
    assert gm["usageMetadata"] == {
        "promptTokenCount": 33,
        "candidatesTokenCount": 5,
        "totalTokenCount": 38,
        "cachedContentTokenCount": 20,
    }


GEMINI = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "plan", "thought": True},
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "R1M="}]},
        "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4,
                      "thoughtsTokenCount": 6, "totalTokenCount": 20},
    "modelVersion": "gemini-x", "responseId": "r9",
}  # fmt: skip


def test_gemini_response_to_anthropic_and_openai() -> None:
    ir = gm_resp.to_ir(GEMINI)
    assert ir.finish_reason == FinishReason.TOOL_CALLS  # Gemini says STOP for calls
    assert ir.usage == Usage(10, 10, reasoning_tokens=6, total_tokens=20)
    an = an_resp.from_ir(ir, "pub")
    assert an["content"][0] == {
        "type": "thinking",
        "thinking": "plan",
        "signature": GEMINI_IN_ANTHROPIC + "R1M=",
    }
    assert an["content"][1]["id"].startswith("gcall_r9_")
    assert an["stop_reason"] == "tool_use"
    oa = oa_resp.from_ir(ir, "pub")
    assert oa["usage"]["completion_tokens"] == 10
    assert oa["usage"]["completion_tokens_details"] == {"reasoning_tokens": 6}
    _, parts = decode_tool_call_id(oa["choices"][0]["message"]["tool_calls"][0]["id"])
    assert parts == [ThinkingPart("", "R1M=", source="gemini")]  # Gemini text not needed


def test_blocked_prompt_is_a_content_filter_finish() -> None:
    ir = gm_resp.to_ir({"promptFeedback": {"blockReason": "SAFETY"}})
    assert ir.finish_reason == FinishReason.CONTENT_FILTER and ir.content == []
    assert oa_resp.from_ir(ir, "p")["choices"][0]["finish_reason"] == "content_filter"
    assert an_resp.from_ir(ir, "p")["stop_reason"] == "refusal"


@pytest.mark.parametrize(("raw", "reason"), [
    ("MAX_TOKENS", FinishReason.LENGTH), ("SAFETY", FinishReason.CONTENT_FILTER),
    ("RECITATION", FinishReason.CONTENT_FILTER), ("MALFORMED_FUNCTION_CALL", FinishReason.ERROR),
    ("LANGUAGE", FinishReason.OTHER),
])  # fmt: skip
def test_gemini_finish_reasons(raw: str, reason: FinishReason) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": raw}]}
    ir = gm_resp.to_ir(body)
    assert ir.finish_reason == reason and ir.raw_finish_reason == raw


def test_anthropic_stop_sequence_and_max_tokens() -> None:
    body = {
        **ANTHROPIC,
        "content": [{"type": "text", "text": "a"}],
        "stop_reason": "stop_sequence",
        "stop_sequence": "END",
    }
    ir = an_resp.to_ir(body)
    assert ir.finish_reason == FinishReason.STOP and ir.stop_sequence == "END"
    assert an_resp.from_ir(ir, "p")["stop_reason"] == "stop_sequence"
    ir = an_resp.to_ir({**body, "stop_reason": "max_tokens"})
    assert oa_resp.from_ir(ir, "p")["choices"][0]["finish_reason"] == "length"
    assert gm_resp.from_ir(ir, "p")["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_json_mode_tool_becomes_text() -> None:
    body = {
        **ANTHROPIC,
        "content": [
            {"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {"answer": 42}}
        ],
        "stop_reason": "tool_use",
    }
    ir = an_resp.to_ir(body)
    assert ir.content == [TextPart('{"answer":42}')]
    assert ir.finish_reason == FinishReason.STOP
    assert oa_resp.from_ir(ir, "p")["choices"][0]["message"]["content"] == '{"answer":42}'


def test_openai_response_to_others() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 5,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
        "system_fingerprint": "fp",
    }
    ir = oa_resp.to_ir(body)
    assert ir.content == [ToolCallPart("call_1", "f", {"a": 1}, '{"a": 1}')]
    an = an_resp.from_ir(ir, "pub")
    assert an["usage"] == {
        "input_tokens": 5,
        "output_tokens": 3,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
    }
    assert "system_fingerprint" not in an
    assert oa_resp.from_ir(ir, "gpt")["system_fingerprint"] == "fp"
    gm = gm_resp.from_ir(ir, "pub")
    assert gm["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "f", "args": {"a": 1}, "id": "call_1"}}
    ]
    assert gm["usageMetadata"]["thoughtsTokenCount"] == 1

"""By default the mock behaves like a sane model: text unless a tool is named or required,
and structured output that validates against the schema, in all three protocols."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from tests.unit.mock.helpers import body_json, call, sse_data, sse_events

CHAT, MSGS, GEN = "/v1/chat/completions", "/v1/messages", "/v1beta/models/g:generateContent"
STREAM_GEN = "/v1beta/models/g:streamGenerateContent"
SHELL = {
    "type": "object",
    "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}},
    "required": ["command"],
}
READ = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
REPORT = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "minLength": 12},
        "model_choice": {"type": "string", "enum": ["flash", "pro"]},
        "scores": {"type": "array", "items": {"type": "number", "minimum": 3}, "minItems": 2},
        "meta": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "id": {"type": "string", "format": "uuid"}},
            "required": ["ok", "id"],
            "additionalProperties": False,
        },
    },
    "required": ["reasoning", "model_choice", "scores", "meta"],
    "additionalProperties": False,
}


def openai(prompt: str, **extra: Any) -> dict[str, Any]:
    tools = [
        {"type": "function", "function": {"name": "Read", "parameters": READ}},
        {"type": "function", "function": {"name": "Bash", "parameters": SHELL}},
    ]
    return {
        "model": "m",
        "messages": [{"role": "user", "content": prompt}],
        "tools": tools,
        **extra,
    }


def anthropic(content: Any, **extra: Any) -> dict[str, Any]:
    tools = [{"name": "Read", "input_schema": READ}, {"name": "Bash", "input_schema": SHELL}]
    return {
        "model": "c",
        "max_tokens": 500,
        "messages": [{"role": "user", "content": content}],
        "tools": tools,
        **extra,
    }


def gemini(prompt: str, **extra: Any) -> dict[str, Any]:
    decls = [{"name": "read_file", "parameters": READ}, {"name": "run_shell", "parameters": SHELL}]
    return {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "tools": [{"functionDeclarations": decls}],
        **extra,
    }


def _openai_call(data: dict[str, Any]) -> tuple[str, Any] | None:
    calls = data["choices"][0]["message"].get("tool_calls")
    return (
        (calls[0]["function"]["name"], orjson.loads(calls[0]["function"]["arguments"]))
        if calls
        else None
    )


def _anthropic_call(data: dict[str, Any]) -> tuple[str, Any] | None:
    uses = [b for b in data["content"] if b["type"] == "tool_use"]
    return (uses[0]["name"], uses[0]["input"]) if uses else None


def _gemini_call(data: dict[str, Any]) -> tuple[str, Any] | None:
    parts = data["candidates"][0]["content"]["parts"]
    fcs = [p["functionCall"] for p in parts if "functionCall" in p]
    return (fcs[0]["name"], fcs[0]["args"]) if fcs else None


def test_offered_tools_are_not_called_unless_named() -> None:
    assert _openai_call(body_json(call(CHAT, openai("Hello there, how are you?")))) is None
    assert _anthropic_call(body_json(call(MSGS, anthropic("Read me a poem")))) is None
    assert _gemini_call(body_json(call(GEN, gemini("Hello")))) is None


def test_the_named_tool_is_called_with_the_quoted_argument() -> None:
    prompt = "Use the Bash tool to run `echo turnout-ok`, then tell me what it printed."
    assert _openai_call(body_json(call(CHAT, openai(prompt)))) == (
        "Bash",
        {"command": "echo turnout-ok"},
    )
    assert _anthropic_call(body_json(call(MSGS, anthropic(prompt)))) == (
        "Bash",
        {"command": "echo turnout-ok"},
    )
    g = "Call run_shell with `ls -la` please"
    assert _gemini_call(body_json(call(GEN, gemini(g)))) == ("run_shell", {"command": "ls -la"})
    # The first one named wins; a name inside a longer word is no mention.
    both = "Use Read on `/etc/hostname`, then Bash"
    assert _openai_call(body_json(call(CHAT, openai(both))))[0] == "Read"  # type: ignore[index]
    assert _openai_call(body_json(call(CHAT, openai("Bashful Readers")))) is None


def test_agent_reminders_do_not_name_tools() -> None:
    content = [
        {
            "type": "text",
            "text": "<system-reminder>Use the Bash tool for shell work.</system-reminder>",
        },
        {"type": "text", "text": "Say hi."},
    ]
    assert _anthropic_call(body_json(call(MSGS, anthropic(content)))) is None
    content[1] = {"type": "text", "text": "Run `pwd` with Bash."}
    assert _anthropic_call(body_json(call(MSGS, anthropic(content)))) == (
        "Bash",
        {"command": "pwd"},
    )


def test_required_tool_choice_calls_the_named_or_the_first_tool() -> None:
    req = openai("Hello", tool_choice="required")
    assert _openai_call(body_json(call(CHAT, req)))[0] == "Read"  # type: ignore[index]
    req = openai("Please use Bash", tool_choice="required")
    assert _openai_call(body_json(call(CHAT, req)))[0] == "Bash"  # type: ignore[index]
    req = anthropic("Hello", tool_choice={"type": "any"})
    assert _anthropic_call(body_json(call(MSGS, req)))[0] == "Read"  # type: ignore[index]
    config = {"functionCallingConfig": {"mode": "ANY"}}
    assert _gemini_call(body_json(call(GEN, gemini("Hi", toolConfig=config))))[0] == "read_file"  # type: ignore[index]


def test_the_first_tool_mode_keeps_the_old_behaviour() -> None:
    first = {"x-mock-tools": "first"}
    assert _openai_call(body_json(call(CHAT, openai("Hello"), headers=first)))[0] == "Read"  # type: ignore[index]
    bad = call(CHAT, openai("Hello"), headers={"x-mock-tools": "sometimes"})
    assert bad.status == 400 and b"tools" in (bad.body or b"")


def _valid(text: str, schema: dict[str, Any]) -> Any:
    value = orjson.loads(text)
    jsonschema.validate(value, schema)
    return value


def test_openai_json_schema_and_json_object() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": REPORT, "strict": True}}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Classify"}],
        "response_format": fmt,
    }
    data = body_json(call(CHAT, body))
    assert data["choices"][0]["finish_reason"] == "stop"
    _valid(data["choices"][0]["message"]["content"], REPORT)
    chunks = sse_data(call(CHAT, {**body, "stream": True}))
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1] if c["choices"]
    )
    assert len(chunks) > 5
    _valid(text, REPORT)
    plain = {**body, "response_format": {"type": "json_object"}}
    assert isinstance(
        orjson.loads(body_json(call(CHAT, plain))["choices"][0]["message"]["content"]), dict
    )


@pytest.mark.parametrize(
    "where",
    [
        {"output_config": {"format": {"type": "json_schema", "schema": REPORT}}},
        {"output_format": {"type": "json_schema", "schema": REPORT}},
    ],
)
def test_anthropic_structured_output(where: dict[str, Any]) -> None:
    body = {
        "model": "c",
        "max_tokens": 500,
        "messages": [{"role": "user", "content": "x"}],
        **where,
    }
    data = body_json(call(MSGS, body))
    _valid(data["content"][0]["text"], REPORT)
    events = sse_events(call(MSGS, {**body, "stream": True}))
    _valid("".join(d["delta"]["text"] for n, d in events if n == "content_block_delta"), REPORT)


def _upper(schema: Any) -> Any:
    """REPORT in Gemini's own Schema dialect: upper-case type names."""
    if isinstance(schema, dict):
        return {
            k: (v.upper() if k == "type" else _upper(v))
            for k, v in schema.items()
            if k != "additionalProperties"
        }
    if isinstance(schema, list):
        return [_upper(v) for v in schema]
    return schema


@pytest.mark.parametrize(
    "config",
    [
        {"responseMimeType": "application/json", "responseJsonSchema": REPORT},
        {"responseMimeType": "application/json", "responseSchema": _upper(REPORT)},
        {"response_mime_type": "application/json", "response_schema": _upper(REPORT)},
    ],
)
def test_gemini_structured_output(config: dict[str, Any]) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "route me"}]}],
        "generationConfig": config,
    }
    data = body_json(call(GEN, body))
    _valid(data["candidates"][0]["content"]["parts"][0]["text"], REPORT)
    frames = sse_data(call(STREAM_GEN, body, query="alt=sse"))
    text = "".join(
        p.get("text", "") for f in frames for p in f["candidates"][0]["content"]["parts"]
    )
    _valid(text, REPORT)
    just_json = {**body, "generationConfig": {"responseMimeType": "application/json"}}
    part = body_json(call(GEN, just_json))["candidates"][0]["content"]["parts"][0]
    assert isinstance(orjson.loads(part["text"]), dict)

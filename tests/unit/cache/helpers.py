"""Calls, runtimes and real answers (from the mock's pure engine) for the cache unit tests."""

from __future__ import annotations

import time
from typing import Any

import orjson

from turnout.config.compile import Runtime, compile_config
from turnout.config.schema import TurnoutConfig
from turnout.mock.engine import respond
from turnout.types import Call

PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/m:generateContent",
}
OPERATIONS = {"openai": "chat", "anthropic": "messages", "gemini": "generateContent"}
PROMPTS: dict[str, dict[str, Any]] = {
    "openai": {"model": "m", "messages": [{"role": "user", "content": "hello there"}]},
    "anthropic": {
        "model": "m",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello there"}],
    },
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]},
}
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
TOOLS: dict[str, dict[str, Any]] = {
    "openai": {
        "tools": [
            {"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA}}
        ],
        "tool_choice": "required",
    },
    "anthropic": {
        "tools": [{"name": "weather", "input_schema": WEATHER_SCHEMA}],
        "tool_choice": {"type": "any"},
    },
    "gemini": {
        "tools": [{"functionDeclarations": [{"name": "weather", "parameters": WEATHER_SCHEMA}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    },
}
THINKING: dict[str, dict[str, Any]] = {
    "openai": {"reasoning_effort": "low"},
    "anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    "gemini": {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}},
}


def make_call(
    protocol: str,
    data: dict[str, Any],
    *,
    stream: bool = False,
    headers: dict[bytes, bytes] | None = None,
    model: str = "m",
    operation: str | None = None,
    sse: bool = True,
) -> Call:
    path = PATHS[protocol]
    query = b""
    if protocol == "gemini" and stream:
        path = path.replace(":generateContent", ":streamGenerateContent")
        query = b"alt=sse" if sse else b""
    body = dict(data)
    if protocol == "openai" and stream:
        body["stream"] = True
    if protocol == "anthropic" and stream:
        body["stream"] = True
    return Call(
        protocol=protocol,
        operation=operation or OPERATIONS[protocol],
        model=model,
        body=orjson.dumps(body),
        data=body,
        stream=stream,
        headers=headers or {},
        request_id="rid",
        started=time.perf_counter(),
        path=path,
        query=query,
    )


def mock_answer(call: Call, **mock_headers: str) -> tuple[bytes | None, list[bytes] | None]:
    """What the mock provider answers to ``call``: (body, None) or (None, stream frames)."""
    headers = {k.replace("_", "-"): v for k, v in mock_headers.items()}
    resp = respond("POST", call.path, call.query.decode(), headers, call.body)
    assert resp.status == 200, resp.body
    if resp.frames is not None:
        return None, list(resp.frames)
    return resp.body, None


DEPLOY = [{"provider": "p"}]


def runtime(models: dict[str, Any] | None = None, **cache: Any) -> Runtime:
    config = TurnoutConfig.model_validate(
        {
            "providers": {"p": {"type": "mock"}},
            "models": models
            if models is not None
            else {"m": {"deployments": DEPLOY, "cache": True}},
            "cache": cache,
        }
    )
    return compile_config(config)

"""Request bodies for the shape tests: one rich, valid request per client protocol (every
field translation reads, so a mutation can land anywhere it looks), and how to send it and
recognise that protocol's error shape."""

from __future__ import annotations

import copy
from typing import Any

import httpx

JSON = dict[str, Any]
TOOL_ARGS = '{"city": "Paris"}'

OPENAI: JSON = {
    "model": "MODEL",
    "stream": False,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Really brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": TOOL_ARGS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": "auto",
    "temperature": 0.5,
    "top_p": 0.9,
    "max_tokens": 32,
    "stop": ["END"],
    "seed": 7,
    "user": "someone",
    "metadata": {"k": "v"},
    "stream_options": {"include_usage": True},
    "response_format": {"type": "text"},
}

ANTHROPIC: JSON = {
    "model": "MODEL",
    "stream": False,
    "max_tokens": 32,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the weather?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "P"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "Sunny"}],
                }
            ],
        },
    ],
    "tools": [
        {
            "name": "weather",
            "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
    "tool_choice": {"type": "auto"},
    "temperature": 0.5,
    "top_p": 0.9,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "someone"},
}

GEMINI: JSON = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "What is the weather?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            ],
        },
        {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "P"}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "weather", "response": {"output": "Sunny"}}}],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "weather",
                    "description": "Weather in a city",
                    "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
                }
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 0.5,
        "topP": 0.9,
        "maxOutputTokens": 32,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingBudget": 0},
    },
}

RESPONSES: JSON = {
    "model": "MODEL",
    "stream": False,
    "store": False,
    "instructions": "Be brief.",
    "input": [
        {"role": "developer", "content": [{"type": "input_text", "text": "Really brief."}]},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is the weather?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            ],
        },
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "A tool."}]},
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": TOOL_ARGS},
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]},
        {"role": "user", "content": "Thanks."},
    ],
    "tools": [
        {
            "type": "function",
            "name": "weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": False,
        }
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_output_tokens": 32,
    "temperature": 0.5,
    "top_p": 0.9,
    "text": {"format": {"type": "text"}},
    "reasoning": {"effort": "low"},
    "user": "someone",
    "metadata": {"k": "v"},
}

BASE = {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI, "responses": RESPONSES}


def body(protocol: str, model: str) -> JSON:
    data = copy.deepcopy(BASE[protocol])
    if "model" in data:
        data["model"] = model
    return data


# The routes of each protocol that read a generate request's body: its generate route, and
# the others that take the same body (token counting; Gemini's streams, with and without SSE).
ROUTES: dict[str, tuple[str, ...]] = {
    "openai": ("generate",),
    "anthropic": ("generate", "count"),
    "responses": ("generate", "count"),
    "gemini": ("generate", "count", "stream", "stream-array"),
}


def send(
    client: httpx.Client, protocol: str, model: str, data: Any, route: str = "generate"
) -> httpx.Response:
    """POST ``data`` (any JSON) to the protocol's ``route`` (:data:`ROUTES`) for ``model``."""
    if protocol == "openai":
        return client.post("/v1/chat/completions", json=data)
    count = route == "count"
    if protocol == "anthropic":
        return client.post("/v1/messages" + ("/count_tokens" if count else ""), json=data)
    if protocol == "responses":
        return client.post("/v1/responses" + ("/input_tokens" if count else ""), json=data)
    stream = route.startswith("stream") or (isinstance(data, dict) and data.get("stream") is True)
    action = "streamGenerateContent" if stream else "generateContent"
    if count:
        action = "countTokens"
    elif stream and route != "stream-array":
        action += "?alt=sse"
    return client.post(f"/v1beta/models/{model}:{action}", json=data)


def error_message(protocol: str, payload: Any) -> str:
    """The message of an error body in ``protocol``'s own shape (AssertionError if it is not
    that shape)."""
    assert isinstance(payload, dict), payload
    if protocol == "anthropic":
        assert payload.get("type") == "error", payload
        error = payload["error"]
        assert isinstance(error.get("type"), str), payload
    elif protocol == "gemini":
        error = payload["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("status"), str), payload
    else:
        error = payload["error"]
        assert "type" in error, payload
    message = error.get("message")
    assert isinstance(message, str), payload
    return message

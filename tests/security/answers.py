"""What the hostile-answer tests share (test_upstream_answers.py, test_upstream_errors.py,
test_streamed_arguments.py): a gateway in front of the scripted upstream, whose answer each
request names in its ``x-scripted-answer`` header, with a provider of every upstream protocol
and Bedrock for a Converse model; each client protocol's request and error shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.procs import Proc, start_gateway, start_scripted

# Upstream protocol -> (provider type, base path suffix, deployment extras).
UPSTREAMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "chat": ("openai-compatible", "/v1", {}),
    "messages": ("anthropic", "", {}),
    "gemini": ("gemini", "", {}),
    "responses": ("openai", "/v1", {"api": "responses"}),
}
CLIENTS = ("chat", "messages", "gemini", "responses")
PAIRS = [(u, c) for u in UPSTREAMS for c in CLIENTS if u != c]


def header(answer: Any) -> dict[str, str]:
    """The request header that has the scripted upstream give ``answer`` (scripted.py)."""
    return {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}


def whole(body: Any) -> dict[str, str]:
    """The header that has the scripted upstream answer ``body`` whole."""
    return header({"chunks": [json.dumps(body)]})


def answers_gateway(tmp: Path) -> Iterator[Proc]:
    """The gateway and its scripted upstream, stopped on the way out."""
    upstream = start_scripted({}, tmp)
    providers: dict[str, Any] = {
        name: {
            "type": kind,
            "base_url": upstream.url + suffix,
            "api_keys": ["k-00000001"],
            "forward_headers": ["x-scripted-*"],
        }
        for name, (kind, suffix, _) in UPSTREAMS.items()
    }
    models = {
        f"to-{name}": {"deployments": [{"provider": name, "model": "up", **extra}]}
        for name, (_, _, extra) in UPSTREAMS.items()
    }
    # Bedrock, for a model it serves through Converse (answers re-shaped as Anthropic's).
    providers["bedrock"] = {
        "type": "bedrock",
        "base_url": upstream.url,
        "api_keys": ["AKIAUPSTREAM00000001:upstream/secret/0001"],
        "options": {"region": "us-east-1"},
        "forward_headers": ["x-scripted-*"],
    }
    models["to-converse"] = {
        "deployments": [{"provider": "bedrock", "model": "us.meta.up-converse-v1:0"}]
    }
    config = {
        "storage": {"enabled": False},
        "logging": {"requests": False},
        "providers": providers,
        "models": models,
        # Every failure is the answer's, not the deployment's: nothing cools down.
        "routing": {
            "max_attempts": 1,
            "overloaded_retries": 0,
            "cooldowns": {"rate_limited": 0},
            "breaker": {"consecutive_failures": 1_000_000, "min_requests": 1_000_000},
        },
    }
    proc = start_gateway(config, tmp)
    yield proc
    proc.stop()
    upstream.stop()


def request(client: str, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    chat = [{"role": "user", "content": "hi"}]
    if client == "chat":
        return "/v1/chat/completions", {"model": model, "messages": chat, "stream": stream}
    if client == "messages":
        body = {"model": model, "max_tokens": 3000, "messages": chat, "stream": stream}
        return "/v1/messages", body
    if client == "responses":
        return "/v1/responses", {"model": model, "input": "hi", "stream": stream}
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return f"/v1beta/models/{model}:{action}", body


def error_shape(client: str, payload: Any) -> None:
    """AssertionError unless ``payload`` is an error of ``client``'s protocol."""
    assert isinstance(payload, dict), payload
    if client == "messages":
        assert payload.get("type") == "error", payload
        assert isinstance(payload["error"].get("type"), str), payload
    elif client == "gemini":
        error = payload["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("status"), str)
    assert isinstance(payload["error"].get("message"), str), payload

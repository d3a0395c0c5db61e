"""A hostile upstream stream on a translated route: what the gateway holds of it is bounded.

A Responses client's stream ends with the whole answer (``response.completed``), and a Gemini
client's function call needs its complete arguments, so for these clients the gateway holds
what it translates. Each upstream event is small (the 16 MiB per-event limit does not apply),
but there is no end to them: before, an upstream streaming 8 kB argument deltas grew the
gateway by all of it (700 MB of memory for a 320 MB stream) until the stream ended or
``timeouts.total`` passed. Now an answer held past 32 Mi characters fails as the upstream's
fault: the client's error frame, the upstream connection dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_scripted

PIECE = "a" * 8000
PIECES = 12_500  # 100 MB of arguments, valid JSON once whole
CHAT: Any = [{"role": "user", "content": "hi"}]


def _chunk(delta: dict[str, Any]) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": None}
    body = {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n"


def _args(text: Any) -> str:
    return _chunk({"tool_calls": [{"index": 0, "function": {"arguments": text}}]})


START = _chunk(
    {
        "role": "assistant",
        "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}],
    }
)
ARGUMENTS = {
    "type": "text/event-stream",
    "chunks": [START, _args('{"a": "')],
    "repeat": {"chunk": _args(PIECE), "times": PIECES},
    "after": [_args('"}'), "data: [DONE]\n\n"],
}


def _peak_rss_kb(proc: Proc) -> int:
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    upstream = start_scripted({"args": ARGUMENTS}, tmp_path)
    provider = {"type": "openai-compatible", "base_url": upstream.url + "/v1", "api_keys": ["k"]}
    config = {
        "storage": {"enabled": False},
        "providers": {"up": provider},
        "models": {"args": {"deployments": [{"provider": "up", "model": "args"}]}},
    }
    proc = start_gateway(config, tmp_path)
    yield proc, upstream
    proc.stop()
    upstream.stop()


def _stream(gateway: Proc, client: str) -> bytes:
    if client == "gemini":
        url = gateway.url + "/v1beta/models/args:streamGenerateContent?alt=sse"
        body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    else:
        url = gateway.url + "/v1/responses"
        body = {"model": "args", "input": "hi", "stream": True}
    tail = b""
    try:
        with httpx.stream("POST", url, json=body, timeout=120) as reply:
            for chunk in reply.iter_raw():
                tail = (tail + chunk)[-4096:]
    except httpx.RemoteProtocolError:  # a failed stream ends without its last chunk
        pass
    return tail


@pytest.mark.parametrize("client", ["gemini", "responses"])
def test_an_answer_held_for_the_client_is_bounded(gateway: tuple[Proc, Proc], client: str) -> None:
    proc, upstream = gateway
    before = _peak_rss_kb(proc)
    tail = _stream(proc, client)
    assert b"held for the client" in tail, tail[-500:]
    assert b'"error"' in tail
    # Held: at most the cap (32 Mi characters) and what joining it costs, not the 100 MB.
    assert _peak_rss_kb(proc) - before < 90 * 1024
    assert scripted_requests(upstream)[-1]["closed"]  # the upstream call was dropped


# Valid streams but for one value of the wrong type, per upstream protocol.
def _sse(*events: tuple[str | None, Any]) -> list[str]:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return out


def _anthropic(name: str, **fields: Any) -> tuple[str, Any]:
    return name, {"type": name, **fields}


_MESSAGE = {"id": "m", "type": "message", "role": "assistant", "model": "m", "content": [],
            "usage": {"input_tokens": 3, "output_tokens": 1}}  # fmt: skip
_TOOL = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
_END = (
    _anthropic("content_block_stop", index=0),
    _anthropic("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 2}),
    _anthropic("message_stop"),
)
_GEMINI_END = {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]}
WRONG_TYPES = {
    "openai-text": _sse((None, json.loads(_chunk({"content": 5})[6:])), (None, "[DONE]")),
    "openai-arguments": _sse(
        (None, json.loads(START[6:])),
        (None, json.loads(_args({"a": 1})[6:])),
        (None, "[DONE]"),
    ),
    "anthropic-text": _sse(
        _anthropic("message_start", message=_MESSAGE),
        _anthropic("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        _anthropic("content_block_delta", index=0, delta={"type": "text_delta", "text": 5}),
        *_END,
    ),
    "anthropic-arguments": _sse(
        _anthropic("message_start", message=_MESSAGE),
        _anthropic("content_block_start", index=0, content_block=_TOOL),
        _anthropic(
            "content_block_delta",
            index=0,
            delta={"type": "input_json_delta", "partial_json": {"a": 1}},
        ),
        *_END,
    ),
    "gemini-text": _sse(
        (None, {"candidates": [{"content": {"parts": [{"text": 5}]}}]}), (None, _GEMINI_END)
    ),
    "gemini-name": _sse(
        (None, {"candidates": [{"content": {"parts": [{"functionCall": {"name": 5}}]}}]}),
        (None, _GEMINI_END),
    ),
}
KINDS = {
    "openai": ("openai-compatible", "/v1"),
    "anthropic": ("anthropic", ""),
    "gemini": ("gemini", ""),
}
# Each client's error frame, and how a stream's text or arguments are spelled in it.
CLIENTS = {
    "chat": b'data: {"error":',
    "messages": b"event: error\ndata: {",
    "gemini": b'data: {"error":{"code":502',
    "responses": b"event: error\ndata: {",
}


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = Path(tmp_path_factory.mktemp("wrong"))
    script = {
        name: {"type": "text/event-stream", "chunks": chunks}
        for name, chunks in WRONG_TYPES.items()
    }
    upstream = start_scripted(script, tmp)
    providers = {
        kind: {"type": kind_type, "base_url": upstream.url + suffix, "api_keys": ["k-000000001"]}
        for kind, (kind_type, suffix) in KINDS.items()
    }
    models = {
        name: {"deployments": [{"provider": name.split("-")[0], "model": name}]}
        for name in WRONG_TYPES
    }
    config = {"storage": {"enabled": False}, "providers": providers, "models": models}
    proc = start_gateway(config, tmp)
    yield proc
    proc.stop()
    upstream.stop()


def _request(client: str, model: str) -> tuple[str, dict[str, Any]]:
    chat = [{"role": "user", "content": "hi"}]
    if client == "chat":
        return "/v1/chat/completions", {"model": model, "messages": chat, "stream": True}
    if client == "messages":
        return "/v1/messages", {"model": model, "max_tokens": 9, "messages": chat, "stream": True}
    if client == "responses":
        return "/v1/responses", {"model": model, "input": "hi", "stream": True}
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return f"/v1beta/models/{model}:streamGenerateContent?alt=sse", body


_NATIVE = {"openai": "chat", "anthropic": "messages", "gemini": "gemini"}


# Translated pairs only: a same-protocol stream is relayed as it came.
PAIRS = [(m, c) for m in WRONG_TYPES for c in CLIENTS if _NATIVE[m.split("-")[0]] != c]


@pytest.mark.parametrize(("model", "client"), PAIRS)
def test_a_stream_event_of_the_wrong_type_is_the_upstreams_failure(
    wrong: Proc, model: str, client: str
) -> None:
    """Before: the value went through to the client as it came (an Anthropic client got
    ``"text": 5`` or ``"partial_json": {"a": 1}``, a Gemini client ``"name": 5``) and the
    stream ended as a success. Now the client gets its protocol's error (502 before the first
    byte, the error frame after it), and nothing of the wrong type."""
    path, body = _request(client, model)
    data = b""
    try:
        with httpx.stream("POST", wrong.url + path, json=body, timeout=30) as reply:
            status = reply.status_code
            for chunk in reply.iter_raw():
                data += chunk
    except httpx.RemoteProtocolError:  # a failed stream ends without its last chunk
        pass
    if status == 200:  # the stream had begun: the client's error frame ends it
        assert CLIENTS[client] in data, data[-600:]
    else:  # nothing was written yet: the client's error body
        assert status == 502
        error = json.loads(data)
        assert error["type"] == "error" if client == "messages" else "error" in error
    assert b"is not a string" in data
    for odd in (b'"text":5', b'"name":5', b'"partial_json":{', b'"delta":{"a"'):
        assert odd not in data

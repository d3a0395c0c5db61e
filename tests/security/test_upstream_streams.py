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


def _args(text: str) -> str:
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

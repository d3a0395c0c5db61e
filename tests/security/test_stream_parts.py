"""An upstream stream that opens blocks or tool calls without end, on a translated route.

A stream decoder keeps an entry per content block (Anthropic), tool call (OpenAI) or output
item (Responses), under the index the upstream chose. Before, an upstream opening a new one
with every event grew the gateway by its whole stream; and an Anthropic ``message_delta``
looked at every block opened so far, so a few thousand blocks followed by repeated deltas held
the event loop (every client's requests) for as long as the upstream liked: 20,000 blocks and
20,000 deltas, 4.2 MB, held it 50 s. Now a stream that opens more than 4,096 fails as the
upstream's fault, in the client's own protocol (docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_scripted

BLOCKS = 5000  # past the bound (turnout.protocols.decoder.MAX_PARTS)


def _event(name: str | None, data: dict[str, Any]) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"


def _anthropic_blocks() -> list[str]:
    message = {"id": "m", "type": "message", "role": "assistant", "model": "m", "content": [],
               "usage": {"input_tokens": 3, "output_tokens": 1}}  # fmt: skip
    chunks = [_event("message_start", {"type": "message_start", "message": message})]
    for i in range(BLOCKS):
        block = {"type": "content_block_start", "index": i,
                 "content_block": {"type": "text", "text": ""}}  # fmt: skip
        chunks.append(_event("content_block_start", block))
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    chunks += [_event("message_delta", delta), _event("message_stop", {"type": "message_stop"})]
    return chunks


def _openai_tools() -> list[str]:
    chunks = []
    for i in range(BLOCKS):
        call = {"index": i, "id": f"c{i}", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}  # fmt: skip
        choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}
        chunks.append(_event(None, {"id": "x", "object": "chat.completion.chunk",
                                    "model": "m", "choices": [choice]}))  # fmt: skip
    return [*chunks, "data: [DONE]\n\n"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp = Path(tmp_path_factory.mktemp("parts"))
    script = {
        "blocks": {"type": "text/event-stream", "chunks": _anthropic_blocks()},
        "tools": {"type": "text/event-stream", "chunks": _openai_tools()},
    }
    upstream = start_scripted(script, tmp)
    key = ["k-000000001"]
    config = {
        "storage": {"enabled": False},
        "providers": {
            "claude": {"type": "anthropic", "base_url": upstream.url, "api_keys": key},
            "compat": {
                "type": "openai-compatible",
                "base_url": upstream.url + "/v1",
                "api_keys": key,
            },
        },
        "models": {
            "blocks": {"deployments": [{"provider": "claude", "model": "blocks"}]},
            "tools": {"deployments": [{"provider": "compat", "model": "tools"}]},
        },
    }
    proc = start_gateway(config, tmp)
    yield proc, upstream
    proc.stop()
    upstream.stop()


def test_anthropic_blocks_without_end_fail_an_openai_clients_stream(
    gateway: tuple[Proc, Proc],
) -> None:
    proc, _ = gateway
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="blocks", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="more than 4096 content blocks"):
        for _ in stream:
            pass
    assert httpx.get(proc.url + "/healthz").status_code == 200


def test_openai_tool_calls_without_end_fail_an_anthropic_clients_stream(
    gateway: tuple[Proc, Proc],
) -> None:
    proc, upstream = gateway
    client = anthropic.Anthropic(base_url=proc.url, api_key="unused", max_retries=0)
    starts = 0
    chat: Any = [{"role": "user", "content": "hi"}]
    with (
        pytest.raises(anthropic.APIStatusError, match="more than 4096"),
        client.messages.stream(model="tools", max_tokens=9, messages=chat) as stream,
    ):
        for event in stream:
            starts += event.type == "content_block_start"
    assert starts == 4096  # every tool call up to the bound reached the client
    assert scripted_requests(upstream)[-1]["model"] == "tools"

"""The pipeline the app assembles: a step that acts on one protocol's calls only is on that
protocol's chain and nobody else's (every step is a coroutine each resume of a call passes
through)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from turnout.app import Gateway, create_app
from turnout.config import compile_config
from turnout.config.load import parse_raw
from turnout.conversations.step import Conversations
from turnout.types import Call, Handler, Reply


def _app() -> Gateway:
    raw = {
        "providers": {"p": {"type": "mock"}},
        "models": {"m": {"deployments": [{"provider": "p", "model": "mock-up"}]}},
        "storage": {"enabled": False},
    }
    return create_app(compile_config(parse_raw(raw, {}, "t")))


async def test_only_responses_calls_pass_the_conversation_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    original = Conversations.step

    async def counted(self: Conversations, call: Call, next: Handler) -> Reply:
        seen.append(call.protocol)
        return await original(self, call, next)

    monkeypatch.setattr(Conversations, "step", counted)
    app = _app()
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            chat: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            assert (await client.post("/v1/chat/completions", json=chat)).status_code == 200
            msg: dict[str, Any] = {"model": "m", "max_tokens": 8, **chat}
            assert (await client.post("/v1/messages", json=msg)).status_code == 200
            responses = {"model": "m", "input": "hi"}
            answer = await client.post("/v1/responses", json=responses)
            assert answer.status_code == 200, answer.text
    finally:
        await app.shutdown()
    assert seen == ["responses"]

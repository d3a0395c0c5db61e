"""OpenAI-compatible inbound endpoints."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.api.endpoint import Inbound, require_model
from turnout.api.io import JSON, send_bytes
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send


def _chat(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), data.get("stream") is True


def _embeddings(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), False


CHAT = Inbound("openai", "chat", _chat, stream_terminator=b"[DONE]")
EMBEDDINGS = Inbound("openai", "embeddings", _embeddings)


async def list_models(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    """Concrete public model names (glob patterns such as ``gpt-*`` are not model ids)."""
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "turnout"}
        for name in state.runtime.models
    ]
    await send_bytes(send, 200, [JSON], orjson.dumps({"object": "list", "data": data}))

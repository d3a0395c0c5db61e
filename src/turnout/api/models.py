"""``GET /v1/models``: the public model list, in the OpenAI shape every SDK reads."""

from __future__ import annotations

import orjson

from turnout.api.io import JSON, send_bytes
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send


async def list_models(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    """Concrete public model names (glob patterns such as ``gpt-*`` are not model ids)."""
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "turnout"}
        for name in state.runtime.models
    ]
    await send_bytes(send, 200, [JSON], orjson.dumps({"object": "list", "data": data}))

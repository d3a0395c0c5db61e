"""``GET /v1/models``: the public model list, in the OpenAI shape every SDK reads."""

from __future__ import annotations

import orjson

from turnout.api.io import JSON, send_bytes
from turnout.config.compile import Runtime
from turnout.mock.openai import MODELS as MOCK_MODELS
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send


def model_ids(runtime: Runtime) -> list[str]:
    """Concrete public model names. Glob patterns such as ``gpt-*`` are not model ids and a
    real upstream's catalogue is not fetched, but a pattern served by the built-in mock lists
    the mock's models it matches (``--demo`` answers any name and should say so by example)."""
    names = list(runtime.models)
    for name in MOCK_MODELS:
        route = runtime.resolve(name)
        if (
            name not in names
            and route is not None
            and any(runtime.providers[d.provider].type == "mock" for d in route.deployments)
        ):
            names.append(name)
    return names


async def list_models(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "turnout"}
        for name in model_ids(state.runtime)
    ]
    await send_bytes(send, 200, [JSON], orjson.dumps({"object": "list", "data": data}))

"""The public model list, in the shape of the SDK that asks: ``GET /v1/models`` for OpenAI
clients (and Anthropic clients, told apart by their ``anthropic-version`` header), ``GET
/v1beta/models`` for Gemini clients. While authentication is on, a caller sees only the models
its key (and team) may use."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.api.io import JSON, send_bytes
from turnout.auth.guard import PRINCIPAL
from turnout.config.compile import Runtime
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send

_EPOCH = "1970-01-01T00:00:00Z"  # no creation time is known for a public model
_GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def model_ids(runtime: Runtime) -> list[str]:
    """Concrete public model names. Glob patterns such as ``gpt-*`` are not model ids and a
    real upstream's catalogue is not fetched, but a pattern served by the built-in mock lists
    the mock's models it matches (``--demo`` answers any name and should say so by example)."""
    names = list(runtime.models)
    if not any(p.type == "mock" for p in runtime.providers.values()):
        return names  # and the mock's model list stays unimported (docs/measurements.md#memory)
    from turnout.mock.openai import MODELS as MOCK_MODELS

    for name in MOCK_MODELS:
        route = runtime.resolve(name)
        if (
            name not in names
            and route is not None
            and any(runtime.providers[d.provider].type == "mock" for d in route.deployments)
        ):
            names.append(name)
    return names


def _openai(names: list[str]) -> dict[str, Any]:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "turnout"} for n in names]
    return {"object": "list", "data": data}


def _anthropic(names: list[str]) -> dict[str, Any]:
    data = [{"type": "model", "id": n, "display_name": n, "created_at": _EPOCH} for n in names]
    return {
        "data": data,
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


def _gemini(names: list[str]) -> dict[str, Any]:
    models = [
        {
            "name": f"models/{n}",
            "version": "turnout",
            "displayName": n,
            "supportedGenerationMethods": _GEMINI_METHODS,
        }
        for n in names
    ]
    return {"models": models}


async def list_models(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    names = model_ids(state.runtime)
    principal = scope.get(PRINCIPAL)
    if principal is not None:
        names = [n for n in names if principal.allows(n)]
    if scope["path"].startswith("/v1beta/"):
        body = _gemini(names)
    elif any(k == b"anthropic-version" for k, _ in scope["headers"]):
        body = _anthropic(names)
    else:
        body = _openai(names)
    await send_bytes(send, 200, [JSON], orjson.dumps(body))

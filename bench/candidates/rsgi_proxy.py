"""RSGI proxy app for granian --interface rsgi (same behaviour as asgi_proxy.app)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from granian.rsgi import ProtocolClosed

from clients import make_client

_client: Any = None
_init: asyncio.Future[Any] | None = None

JSON_HDRS = [("content-type", "application/json")]
SSE_HDRS = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]


async def _get_client() -> Any:
    global _client, _init
    if _init is None:
        _init = asyncio.get_running_loop().create_future()
        _client = make_client()
        _init.set_result(_client)
    return await _init


async def app(scope: Any, proto: Any) -> None:
    if scope.path != "/v1/chat/completions" or scope.method != "POST":
        proto.response_empty(404, [])
        return
    body = await proto()
    req = orjson.loads(body)
    _model, stream = req.get("model"), req.get("stream") is True
    up = _client or await _get_client()
    if not stream:
        status, data = await up.send(body)
        proto.response_bytes(status, JSON_HDRS, data)  # granian sets content-length
        return
    status, chunks, aclose = await up.open_stream(body)
    try:
        tx = proto.response_stream(status, SSE_HDRS)
        async for chunk in chunks:
            await tx.send_bytes(chunk)
    except ProtocolClosed:  # downstream client went away mid-stream
        pass
    finally:
        await aclose()

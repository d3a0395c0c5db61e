"""Raw ASGI proxy app (no framework) — served by uvicorn and by granian --interface asgi.

POST /v1/chat/completions: read body, parse once with orjson (model/stream, like the
gateway), forward to the upstream with the client chosen by $PROXY_CLIENT, relay the
reply (non-stream: whole JSON with Content-Length; stream: chunk by chunk).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from clients import make_client

_client: Any = None
_init: asyncio.Future[Any] | None = None

JSON_HDRS = [(b"content-type", b"application/json")]
SSE_HDRS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
NOT_FOUND = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}


async def _get_client() -> Any:
    global _client, _init
    if _init is None:  # first request creates the client on the serving loop
        _init = asyncio.get_running_loop().create_future()
        _client = make_client()
        _init.set_result(_client)
    return await _init


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (msg := await receive())["type"] != "lifespan.shutdown":
                await send({"type": msg["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] != "/v1/chat/completions" or scope["method"] != "POST":
        await send(NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})
        return
    msg = await receive()
    body = msg.get("body", b"")
    while msg.get("more_body"):
        msg = await receive()
        body += msg.get("body", b"")
    req = orjson.loads(body)
    _model, stream = req.get("model"), req.get("stream") is True
    up = _client or await _get_client()
    if not stream:
        status, data = await up.send(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*JSON_HDRS, (b"content-length", b"%d" % len(data))],
            }
        )
        await send({"type": "http.response.body", "body": data})
        return
    status, chunks, aclose = await up.open_stream(body)
    try:
        await send({"type": "http.response.start", "status": status, "headers": SSE_HDRS})
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await aclose()

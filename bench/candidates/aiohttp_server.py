"""aiohttp.web server (on uvloop) proxy candidate.

PORT=18080 UPSTREAM=127.0.0.1:18000 PROXY_CLIENT=custom python aiohttp_server.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import orjson
import uvloop
from aiohttp import web

from clients import make_client

UP: web.AppKey[Any] = web.AppKey("up", object)
SSE_HDRS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


async def proxy(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    req = orjson.loads(body)
    _model, stream = req.get("model"), req.get("stream") is True
    up = request.app[UP]
    if not stream:
        status, data = await up.send(body)
        return web.Response(status=status, body=data, content_type="application/json")
    status, chunks, aclose = await up.open_stream(body)
    try:
        resp = web.StreamResponse(status=status, headers=SSE_HDRS)
        await resp.prepare(request)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    except ConnectionResetError:  # downstream client went away mid-stream
        return resp
    finally:
        await aclose()


async def on_startup(app: web.Application) -> None:
    app[UP] = make_client()


def build() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", proxy)
    app.on_startup.append(on_startup)
    return app


if __name__ == "__main__":
    web.run_app(
        build(),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "18080")),
        access_log=None,
        print=None,
        backlog=4096,
        loop=uvloop.new_event_loop(),
    )

"""An upstream MCP server for the gateway's tests, built with the official SDK.

``python tests/mcp_gateway/upstream.py NAME TRANSPORT [PORT]`` serves a few tools, a prompt,
a static resource and a resource template over ``streamable-http`` (at /mcp), ``sse`` (at /sse) or
``stdio``. Every item carries the server's NAME, so a test can tell who answered. ``slow``
sleeps for as long as it is asked (a slow upstream), ``count`` reports progress, ``fail``
returns a tool error, ``credential`` quotes the Authorization header it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from typing import Any
from urllib.parse import unquote_plus

import mcp_types as types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError


def build(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back, prefixed by the server's name."""
        return f"{name}:{text}"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool(name=f"only_{name}")
    def only() -> str:
        """A tool only this server has."""
        return name

    cancelled = [0]
    subscribers: list[Any] = []

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer: the slow upstream."""
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled[0] += 1
            raise
        return "done"

    @server.tool()
    def cancellations() -> int:
        """How many ``slow`` calls were cancelled."""
        return cancelled[0]

    @server.tool()
    async def touch(uri: str) -> int:
        """Tell every subscriber that ``uri`` changed; returns how many were told."""
        for session in subscribers:
            await session.send_resource_updated(uri)
        return len(subscribers)

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribers.append(ctx.session)
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    # The SDK's high-level server has no subscriptions: its low-level one takes the handlers.
    low = server._lowlevel_server
    low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)

    for i in range(int(os.environ.get("MCP_TEST_EXTRA_TOOLS", "0"))):
        server.add_tool(lambda i=i: i, name=f"extra_{i:04d}", description="one of many")

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Report progress ``steps`` times, then answer."""
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return f"counted {steps}"

    @server.tool()
    async def grow(tool: str, ctx: Context) -> str:
        """Add a tool named ``tool`` and announce that the tool list changed (a server whose
        tools come and go while the gateway is connected), on the session, as 2025-11-25
        servers do (``ctx.notify_tools_changed()`` reaches ``subscriptions/listen`` streams
        only)."""
        server.add_tool(lambda: tool, name=tool, description="added while running")
        await ctx.session.send_tool_list_changed()
        return tool

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool always fails")

    @server.tool()
    def credential(ctx: Context, fail: bool = False) -> str:
        """What the gateway authenticated with, quoted (a debug tool, or a server's error
        that names the token it refused)."""
        sent = (ctx.headers or {}).get("authorization", "")
        if fail:
            raise MCPError(types.INVALID_PARAMS, f"rejected credential: {sent}")
        return f"you sent {sent}"

    @server.tool()
    def big(size: int) -> str:
        """A result of ``size`` bytes."""
        return "x" * size

    @server.resource(f"note://{name}/readme", mime_type="text/plain")
    def readme() -> str:
        """The server's readme."""
        return f"readme of {name}"

    @server.resource("greeting://{who}")
    def greeting(who: str) -> str:
        """Greet someone."""
        return f"hello {who} from {name}"

    @server.prompt()
    def review(code: str) -> str:
        """Ask for a code review."""
        return f"[{name}] review this: {code}"

    return server


def guarded(app: Any, credentials: str) -> Any:
    """The app behind OAuth 2.0 client credentials: ``POST /token`` (HTTP Basic
    ``credentials``) issues a new token and revokes the previous one; ``/mcp`` wants the
    current one. ``GET /_tokens`` says how many were issued."""
    issued: list[str] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        if path == "/token":
            if _client(headers.get("authorization", "")) != credentials:
                await _answer(send, 401, {"error": "invalid_client"})
                return
            issued.append(f"tok-{len(issued) + 1}")
            await _answer(send, 200, {"access_token": issued[-1], "expires_in": 3600})
            return
        if path == "/_tokens":
            await _answer(send, 200, {"issued": len(issued)})
            return
        if path == "/_revoke":
            issued.append("revoked")  # the current token stops working
            await _answer(send, 200, {})
            return
        if not issued or headers.get("authorization") != f"Bearer {issued[-1]}":
            await _answer(send, 401, {"error": "invalid_token"})
            return
        await app(scope, receive, send)

    return asgi


def static_bearers(app: Any, tokens: list[str]) -> Any:
    """The app for callers with one of ``tokens`` only (the passthrough tests). ``GET
    /_initialized`` says how many sessions each token opened (``initialize`` requests): a
    caller whose gateway connection was closed and opened again shows two."""
    wanted = {f"Bearer {t}" for t in tokens}
    opened: dict[str, int] = {}

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if scope["path"] == "/_initialized":
                await _answer(send, 200, opened)
                return
            if scope["path"] != "/_ready" and headers.get("authorization") not in wanted:
                await _answer(send, 401, {"error": "invalid_token"})
                return
            if scope["path"] == "/_ready":
                await _answer(send, 200, {})
                return
            if scope["method"] == "POST":
                messages = [await receive()]
                while messages[-1].get("more_body"):
                    messages.append(await receive())
                if b'"initialize"' in b"".join(m.get("body", b"") for m in messages):
                    token = headers["authorization"][len("Bearer ") :]
                    opened[token] = opened.get(token, 0) + 1
                replay = iter(messages)

                async def again() -> Any:
                    return next(replay, None) or await receive()

                await app(scope, again, send)
                return
        await app(scope, receive, send)

    return asgi


def _client(header: str) -> str:
    """``id:secret`` from HTTP Basic, each part form-decoded (RFC 6749 section 2.3.1)."""
    if not header.startswith("Basic "):
        return ""
    raw = base64.b64decode(header[6:]).decode()
    client, _, secret = raw.partition(":")
    return f"{unquote_plus(client)}:{unquote_plus(secret)}"


async def _answer(send: Any, status: int, data: object) -> None:
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    name, transport = sys.argv[1], sys.argv[2]
    server = build(name)
    credentials = os.environ.get("MCP_TEST_CLIENT_CREDENTIALS")
    bearers = os.environ.get("MCP_TEST_BEARERS")
    if credentials or bearers:  # streamable HTTP behind a token check
        import uvicorn

        app = server.streamable_http_app()
        if credentials:
            app = guarded(app, credentials)
        else:
            app = static_bearers(app, (bearers or "").split(","))
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
    elif transport == "stdio":
        server.run("stdio")
    elif transport == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))


if __name__ == "__main__":
    main()

"""An upstream MCP server for the gateway's tests, built with the official SDK.

``python tests/mcp_gateway/upstream.py NAME TRANSPORT [PORT]`` serves a few tools, a prompt,
a static resource and a resource template over ``streamable-http`` (at /mcp), ``sse`` (at /sse) or
``stdio``. Every item carries the server's NAME, so a test can tell who answered. ``slow``
sleeps for as long as it is asked (a slow upstream), ``count`` reports progress, ``fail``
returns a tool error.
"""

from __future__ import annotations

import asyncio
import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context


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

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer: the slow upstream."""
        await asyncio.sleep(seconds)
        return "done"

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Report progress ``steps`` times, then answer."""
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return f"counted {steps}"

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool always fails")

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


def main() -> None:
    name, transport = sys.argv[1], sys.argv[2]
    server = build(name)
    if transport == "stdio":
        server.run("stdio")
    elif transport == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))


if __name__ == "__main__":
    main()

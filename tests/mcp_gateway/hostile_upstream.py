"""An upstream MCP server (the official SDK's low-level server) that lists names no client
should be handed: ``python tests/mcp_gateway/hostile_upstream.py PORT``.

Its tools and prompts: ``fine`` and ``also.fine-1`` (valid), ``fine`` again (a duplicate with
another schema), a name with a newline, one with an ANSI escape, one with a space, an empty
one, one of 300 characters, one with non-ASCII letters, and one with ``/`` (valid names are
``[A-Za-z0-9._-]{1,128}``, the MCP specification's). Its resources: ``note://fine`` and URIs
with a newline, a space and a NUL. Calling a tool answers with its own name.
``PORT bare``: the same without a ``resources/templates/list`` (it answers "Method not
found", as a server with resources but no templates may).
"""

from __future__ import annotations

import sys
from typing import Any

import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server

GOOD = ["fine", "also.fine-1"]
BAD = ["fine", "evil\nname", "red\x1b[31mtool", "with space", "", "x" * 300, "naïve", "a/b"]
GOOD_URIS = ["note://fine"]
BAD_URIS = ["note://evil\nline", "note://with space", "note://nul\x00byte"]
SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
OTHER: dict[str, Any] = {"type": "object", "properties": {"x": {"type": "string"}}}


async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
    tools = [types.Tool(name=n, inputSchema=SCHEMA) for n in GOOD]
    tools += [types.Tool(name=n, inputSchema=OTHER) for n in BAD]
    return types.ListToolsResult(tools=tools)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=f"called {params.name!r}")])


async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[types.Prompt(name=n) for n in GOOD + BAD])


async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
    found = [types.Resource(uri=u, name="r") for u in GOOD_URIS + BAD_URIS]
    return types.ListResourcesResult(resources=found)


async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(resourceTemplates=[])


def main() -> None:
    server: Server[Any] = Server(
        "hostile",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_list_resources=list_resources,
        on_list_resource_templates=None if sys.argv[2:] == ["bare"] else list_templates,
    )
    app = server.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()

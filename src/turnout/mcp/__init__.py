"""The MCP gateway: one governed Model Context Protocol endpoint for every tool server.

Upstream servers (``mcp_servers:``) are held open by :mod:`.upstream`; the gateway serves
them at ``/mcp`` (all of them, names namespaced) and ``/mcp/{server}`` (one) with the official
SDK's server side (:mod:`.views`), after the caller's gateway key was checked and its allow
lists applied (:mod:`.access`). Nothing here is imported until a gateway with MCP servers
starts, so the CLI and gateways without MCP never load the SDK. docs/mcp.md is the guide.
"""

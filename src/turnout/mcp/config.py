"""The ``mcp_servers:`` section of ``turnout.yaml``: upstream MCP servers (docs/mcp.md).

Kept beside the MCP package rather than in :mod:`turnout.config.schema` so the gateway's
MCP support is one folder; the schema only names this model. Closed like the rest of the
config: a typo refuses to start instead of silently exposing a server.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# A server name is a namespace prefix (``server__tool``): no "__" may hide inside it, and it
# must be a valid URI scheme prefix for namespaced resource URIs (``server+scheme://...``).
SERVER_NAME = r"^[a-z][a-z0-9-]{0,62}$"
ServerName = Annotated[str, StringConstraints(pattern=SERVER_NAME)]
_NAME = re.compile(SERVER_NAME)


def valid_server_name(name: str) -> bool:
    return bool(_NAME.match(name))


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class McpAuth(_Closed):
    """How the gateway authenticates to one upstream server.

    ``bearer``: ``Authorization: Bearer <token>``; ``header``: any header and value;
    ``oauth_client_credentials``: a token fetched from ``token_url`` and refreshed before it
    expires; ``passthrough``: each caller's own credential for this server, sent by the caller
    as ``x-mcp-{server}-authorization`` and forwarded as ``Authorization`` on a connection of
    that caller's own (never the gateway key).
    """

    type: Literal["bearer", "header", "oauth_client_credentials", "passthrough"]
    token: str | None = Field(None, description="bearer: the token")
    header: str | None = Field(None, description="header: its name")
    value: str | None = Field(None, description="header: its value")
    token_url: str | None = Field(None, description="oauth_client_credentials: token endpoint")
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> McpAuth:
        needs = {
            "bearer": ("token",),
            "header": ("header", "value"),
            "oauth_client_credentials": ("token_url", "client_id", "client_secret"),
            "passthrough": (),
        }[self.type]
        missing = [n for n in needs if getattr(self, n) is None]
        if missing:
            raise ValueError(f"auth type {self.type} needs {', '.join(missing)}")
        return self


class McpFilter(_Closed):
    """Which of a server's tools, prompts and resources the gateway exposes at all (globs on
    the server's own names; resources by URI). Deny wins."""

    allow: list[str] = Field(default_factory=list, description="globs; empty: everything")
    deny: list[str] = Field(default_factory=list, description="globs, applied after allow")


class McpTimeouts(_Closed):
    connect: float = Field(10.0, gt=0, description="seconds to connect and initialize")
    call: float = Field(60.0, gt=0, description="seconds one request may take upstream")
    list: float = Field(10.0, gt=0, description="seconds to fetch one list of tools, prompts…")


class McpServerConfig(_Closed):
    """One upstream MCP server."""

    transport: Literal["streamable_http", "sse", "stdio"] = "streamable_http"
    url: str | None = Field(None, description="streamable_http / sse: the endpoint")
    urls: list[str] = Field(
        default_factory=list, description="more endpoints of the same server, tried in turn"
    )
    command: list[str] = Field(
        default_factory=list, description="stdio: the program and its arguments (config only)"
    )
    env: dict[str, str] = Field(default_factory=dict, description="stdio: extra environment")
    cwd: str | None = Field(None, description="stdio: working directory")
    headers: dict[str, str] = Field(default_factory=dict, description="sent on every request")
    auth: McpAuth | None = None
    timeouts: McpTimeouts = McpTimeouts()
    tools: McpFilter = McpFilter()
    health_interval: float = Field(30.0, gt=0, description="seconds between two pings")
    max_message_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="larger results are refused (JSON-RPC error)"
    )

    @model_validator(mode="after")
    def _endpoint(self) -> McpServerConfig:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio server needs command: [program, args...]")
            if self.url or self.urls:
                raise ValueError("a stdio server has no url")
        else:
            if not self.url and not self.urls:
                raise ValueError(f"a {self.transport} server needs url")
            if self.command:
                raise ValueError(f"a {self.transport} server has no command")
        return self

    def endpoints(self) -> list[str]:
        """Every URL of the server, the primary first."""
        return ([self.url] if self.url else []) + [u for u in self.urls if u != self.url]

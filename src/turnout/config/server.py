"""The ``server:`` section: the listening side, and what one client may make it hold."""

from __future__ import annotations

from pydantic import Field

from turnout.config.base import Closed

# What the official SDKs send from a browser besides the key: their own telemetry headers
# (x-stainless-*), the protocols' version and feature headers, the gateway's own.
_SDK_HEADERS = [
    "authorization",
    "content-type",
    "x-api-key",
    "x-goog-api-key",
    "x-goog-api-client",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "x-stainless-*",
    "x-request-id",
    "x-session-id",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
]


class CorsConfig(Closed):
    """Web pages of other origins calling the model API, MCP and A2A (docs/security.md)."""

    allow_origins: list[str] = Field(
        default_factory=list,
        description="origins (https://app.example.com) whose pages may call the gateway, or "
        "* for any; empty: cross-origin calls are not answered",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: list(_SDK_HEADERS),
        description="request headers a page may send (a trailing * matches a prefix)",
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["*"], description="answer headers a page may read"
    )
    max_age: int = Field(600, ge=0, le=86400, description="seconds a browser keeps a preflight")


class ServerConfig(Closed):
    """The listening side; the limits are what one client may make the server hold
    (docs/security.md)."""

    host: str = "127.0.0.1"
    port: int = Field(4141, ge=0, le=65535)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="request body limit")
    max_held_body_bytes: int = Field(
        256 * 1024 * 1024,
        gt=0,
        description="request bodies over 64 KiB held at once, all requests together; one that "
        "would pass it gets a retryable 503 before it is read",
    )
    drain_timeout: float = Field(30.0, ge=0, description="seconds to finish in-flight work")
    workers: int = Field(1, ge=1)
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="request line and headers; larger heads get 431"
    )
    max_headers: int = Field(100, ge=8, description="header lines; more get 431")
    header_timeout: float = Field(
        10.0, ge=0, description="seconds to receive a whole request head (408); 0: off"
    )
    body_timeout: float = Field(
        30.0, ge=0, description="longest silence while a request body arrives (408); 0: off"
    )
    idle_timeout: float = Field(
        75.0, ge=0, description="seconds a connection may wait for its next request; 0: off"
    )
    write_timeout: float = Field(
        60.0, ge=0, description="seconds a response may wait for a client that stops reading"
    )
    max_concurrency: int | None = Field(
        None, ge=1, description="connections or requests at once; beyond it requests get 503"
    )
    cors: CorsConfig = Field(default_factory=CorsConfig)
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="while authentication is off, host names (or *.domain) besides localhost "
        "that a request reaching a loopback address may name (DNS rebinding: docs/security.md)",
    )

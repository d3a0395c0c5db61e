"""The ``server:`` section: the listening side, and what one client may make it hold."""

from __future__ import annotations

from pydantic import Field

from turnout.config.base import Closed


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
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="while authentication is off, host names (or *.domain) besides localhost "
        "that a request reaching a loopback address may name (DNS rebinding: docs/security.md)",
    )

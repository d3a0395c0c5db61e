"""Everything a running gateway holds, built once by :func:`switchyard.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchyard.config.compile import Runtime
from switchyard.observability.logging import RequestLog
from switchyard.providers.base import Provider
from switchyard.types import Handler
from switchyard.upstream.base import UpstreamClient


@dataclass(slots=True)
class GatewayState:
    runtime: Runtime
    request_log: RequestLog
    # Set when the lifespan starts (they need a running event loop).
    client: UpstreamClient | None = None
    providers: dict[str, Provider] = field(default_factory=dict)
    handler: Handler | None = None
    draining: bool = False
    ready: bool = False

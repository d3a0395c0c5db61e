"""Everything a running gateway holds, built once by :func:`switchyard.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from switchyard.config.compile import Runtime
from switchyard.observability.logging import RequestLog
from switchyard.providers.base import Provider
from switchyard.types import Handler
from switchyard.upstream.base import UpstreamClient

if TYPE_CHECKING:
    from switchyard.auth.service import AuthService
    from switchyard.cache.service import CacheService
    from switchyard.observability.hub import Observability


@dataclass(slots=True)
class GatewayState:
    runtime: Runtime
    request_log: RequestLog
    # Set when the lifespan starts (they need a running event loop).
    client: UpstreamClient | None = None
    providers: dict[str, Provider] = field(default_factory=dict)
    handler: Handler | None = None
    cache: CacheService | None = None  # None when no model is cached
    observability: Observability | None = None  # storage, metrics, traces, capture
    auth: AuthService | None = None  # gateway keys, limits, budgets (docs/keys-and-limits.md)
    draining: bool = False
    ready: bool = False

"""Everything a running gateway holds, built once by :func:`turnout.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from turnout.api.bodies import BodyMemory
from turnout.config.compile import Runtime
from turnout.observability.logging import RequestLog
from turnout.providers.base import Provider
from turnout.types import Handler
from turnout.upstream.base import UpstreamClient

if TYPE_CHECKING:
    from turnout.a2a.service import A2AService
    from turnout.auth.service import AuthService
    from turnout.cache.service import CacheService
    from turnout.dashboard.access import DashboardAccess
    from turnout.live.reloader import Reloader
    from turnout.live.service import ManagedService
    from turnout.mcp.gate import McpGate
    from turnout.oauth.service import OAuthAccounts
    from turnout.observability.hub import Observability
    from turnout.plugins.service import Plugins


@dataclass(slots=True)
class GatewayState:
    runtime: Runtime
    request_log: RequestLog
    # Set when the lifespan starts (they need a running event loop).
    client: UpstreamClient | None = None
    providers: dict[str, Provider] = field(default_factory=dict)
    handler: Handler | None = None
    # The pipeline of a protocol whose chain differs from ``handler``'s, by its wire name
    # (the Responses API's, with the conversation step: turnout.app ``assemble``).
    handlers: dict[str, Handler] = field(default_factory=dict)
    cache: CacheService | None = None  # None when no model is cached
    observability: Observability | None = None  # storage, metrics, traces, capture
    auth: AuthService | None = None  # gateway keys, limits, budgets (docs/keys-and-limits.md)
    dashboard: DashboardAccess | None = None  # sessions of the web UI (docs/dashboard.md)
    plugins: Plugins | None = None  # the plugin pipeline (docs/plugins.md)
    mcp: McpGate | None = None  # the MCP gateway (docs/mcp.md)
    a2a: A2AService | None = None  # agents behind /a2a (docs/a2a.md)
    reloader: Reloader | None = None  # live configuration (turnout.live)
    managed: ManagedService | None = None  # providers and models of the admin API
    accounts: OAuthAccounts | None = None  # provider accounts signed in with OAuth (oauth.md)
    # Request bodies over 64 KiB held now, for ``server.max_held_body_bytes`` (turnout.api.bodies).
    bodies: BodyMemory = field(default_factory=BodyMemory)
    draining: bool = False
    ready: bool = False

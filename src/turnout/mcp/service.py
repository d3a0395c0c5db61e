"""The running MCP gateway: upstream connections, the views served on them, subscriptions,
and the accounting of every tool call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
    event_from_wire,
)

from turnout.mcp.access import Access
from turnout.mcp.config import McpServerConfig
from turnout.mcp.limits import ToolLimiter
from turnout.mcp.names import join
from turnout.mcp.sizes import json_size
from turnout.mcp.subscriptions import Subscriptions
from turnout.mcp.upstream import TIMEOUT, TOO_LARGE, UNAVAILABLE, Upstream
from turnout.mcp.usage import ToolMetrics, ToolUsage
from turnout.mcp.views import View
from turnout.observability.logging import get_logger
from turnout.outbound import OutboundPolicy
from turnout.outbound.policy import Origin
from turnout.types import Call

if TYPE_CHECKING:
    from turnout.state import GatewayState

log = get_logger("turnout.mcp")
RATE_LIMITED = -32029  # a server-defined JSON-RPC code: the caller's tool_rpm is spent


def _quiet_libraries() -> None:
    """The SDK and its HTTP client log every request and session at INFO: the gateway's own
    lines say what matters (server up/down, every tool call in the request log)."""
    for name in ("httpx2", "mcp"):
        logging.getLogger(name).setLevel(logging.WARNING)


class McpService:
    def __init__(self, state: GatewayState) -> None:
        self.state = state
        _quiet_libraries()
        config = state.runtime.config
        self.policy = OutboundPolicy.from_config(config.outbound)
        self.upstreams: dict[str, Upstream] = {}
        self.views: dict[str | None, tuple[View, StreamableHTTPSessionManager]] = {}
        self.subscriptions = Subscriptions()
        self.limiter = ToolLimiter(self._gateway_limiter)  # tool_rpm: the keys' limiter
        self.usage = ToolUsage()
        self.max_body = config.server.max_body_bytes
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started: dict[str | None, asyncio.Event] = {}
        self._reconfiguring = asyncio.Lock()

    def _gateway_limiter(self) -> Any:
        auth = self.state.auth
        return auth.limiter if auth is not None else None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        obs = self.state.observability
        if obs is not None and obs.metrics is not None:  # /metrics (docs/mcp.md)
            states = lambda: {n: u.state for n, u in self.upstreams.items()}  # noqa: E731
            obs.metrics.registry.register(ToolMetrics(self.usage, states))
        self._view(None)
        await self.reconfigure(self.state.runtime.config.mcp_servers)

    async def stop(self) -> None:
        self._stop.set()
        for up in list(self.upstreams.values()):
            await up.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def _view(self, server: str | None) -> tuple[View, StreamableHTTPSessionManager]:
        found = self.views.get(server)
        if found is not None:
            return found
        view = View(self, server)
        manager = StreamableHTTPSessionManager(
            app=view.server(), max_request_body_size=self.max_body, session_idle_timeout=1800.0
        )
        started = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await self._stop.wait()

        self._tasks.append(asyncio.get_running_loop().create_task(run()))
        self.views[server] = (view, manager)
        self._started[server] = started
        return view, manager

    async def manager(self, server: str | None) -> StreamableHTTPSessionManager:
        """The session manager of a view, once its task group runs."""
        _, manager = self._view(server)
        await self._started[server].wait()
        return manager

    def add(self, name: str, cfg: McpServerConfig, origin: Origin) -> Upstream:
        up = Upstream(name, cfg, self.policy, origin, notify=self._notified)
        self.upstreams[name] = up
        up.start()
        self._view(name)
        return up

    async def reconfigure(self, wanted: Mapping[str, McpServerConfig]) -> None:
        """Follow the serving config (the file's servers and those stored through the admin
        API, which the file shadows by name): new ones added, changed ones reconnected,
        removed ones closed."""
        async with self._reconfiguring:
            managed = self.state.managed
            stored = set(managed.sources.database.get("mcp_servers", ())) if managed else set()

            def origin(name: str) -> Origin:
                return Origin.ADMIN if name in stored else Origin.CONFIG

            for name, up in list(self.upstreams.items()):
                if wanted.get(name) != up.config or up.origin is not origin(name):
                    await self.remove(name)
            for name, cfg in wanted.items():
                if name not in self.upstreams:
                    self.add(name, cfg, origin(name))

    async def remove(self, name: str) -> bool:
        up = self.upstreams.pop(name, None)
        if up is None:
            return False
        await up.stop()
        for event in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
            self.subscriptions.lists_changed(name, event)
        return True

    async def _notified(self, up: Upstream, message: Any) -> None:
        """An upstream resource changed, or one of the server's lists (listen streams)."""
        if isinstance(message, types.ResourceUpdatedNotification):
            await self.subscriptions.updated(up.key, str(message.params.uri))
            return
        event = event_from_wire(message.method, None)
        if event is not None:
            self.subscriptions.lists_changed(up.name, event)

    # -- accounting -----------------------------------------------------------------------------
    async def accounted(
        self,
        access: Access,
        up: Upstream,
        tool: str,
        shown: str,
        arguments: Any,
        call: Callable[[Any], Awaitable[Any]],
    ) -> dict[str, Any]:
        """One tool call: admitted against ``tool_rpm``, forwarded, and logged whatever
        happened (one request-log row, the usage table)."""
        tag = f"t:{access.team}" if access.team else f"k:{access.key_id}"
        refused = await self.limiter.admit(access.limits(), tag)
        started = time.perf_counter()
        bytes_in = json_size(arguments) if arguments is not None else 0
        bytes_out = 0
        status, error = 200, None
        try:
            if refused is not None:
                status, error = 429, refused
                raise MCPError(RATE_LIMITED, refused)
            result = await up.request("tools/call", call)
            bytes_out = json_size(result)
            if result.get("isError"):
                status, error = 200, "the tool reported an error"
            return result
        except MCPError as exc:
            if status == 200:
                status = _status(exc.code)
                error = exc.message[:300]
            raise
        except BaseException:
            status, error = 499, "cancelled"
            raise
        finally:
            latency = time.perf_counter() - started
            self.usage.add(up.name, tool, status, error, latency, bytes_in, bytes_out)
            self._log(access, up.name, tool, status, error, started, latency, bytes_in, bytes_out)

    def refused(self, access: Access, name: str, exc: MCPError) -> None:
        """A ``tools/call`` refused before any upstream saw it: an unknown or denied name
        (status 404, whatever the caller was told), a server that is down (502). Still a row
        of the request log under the key that tried, as a model call refused is; never a
        metric or usage label (the name is the caller's). Not counted against ``tool_rpm``:
        it costs no upstream anything."""
        status = 404 if exc.code == types.INVALID_PARAMS else _status(exc.code)
        error = exc.message[:300]
        self._log(access, "", "", status, error, time.perf_counter(), 0.0, shown=name[:200])

    def _log(
        self,
        access: Access,
        server: str,
        tool: str,
        status: int,
        error: str | None,
        started: float,
        latency: float,
        bytes_in: int | None = None,
        bytes_out: int | None = None,
        shown: str | None = None,
    ) -> None:
        call = Call(
            protocol="mcp",
            operation="tools/call",
            model=shown if shown is not None else join(server, tool),
            body=b"",
            data={},
            stream=False,
            headers={},
            request_id=uuid.uuid4().hex,
            started=started,
            deployment=f"{server}/{tool}" if server else "",
            attempts=1,
            status=status,
            error=error,
            key_id=access.key_id,
            team=access.team,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
        )
        request_log = self.state.request_log
        request_log.inflight += 1  # record() counts it out again
        request_log.record(call, latency)

    # -- reports --------------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        return [up.status() for up in self.upstreams.values()]


def _status(code: int) -> int:
    """The HTTP-like status a tool call's row carries, from its JSON-RPC error."""
    if code == TIMEOUT:
        return 504
    if code in (UNAVAILABLE, TOO_LARGE):
        return 502
    if code == RATE_LIMITED:
        return 429
    return 400

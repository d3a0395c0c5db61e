"""``create_app``: build the gateway's ASGI application from a compiled config.

The hot-path routes are a dict lookup on the exact path and a direct call into a raw ASGI
handler: no framework routing, request objects or middleware stack on the way to a provider
(docs/architecture.md). Everything stateful is made in the lifespan (the pooled client needs
the server's event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from turnout import allocator
from turnout.a2a.service import A2AService
from turnout.api.cors import CorsGate
from turnout.api.inert import inert
from turnout.api.others import serve_other
from turnout.api.routes import Route, client_routes
from turnout.auth.browsers import PageGuard
from turnout.auth.credentials import apply_stored
from turnout.auth.guard import guard_admin_route
from turnout.auth.service import AuthService
from turnout.batches.routes import BatchService
from turnout.cache.service import CacheService
from turnout.config.compile import Runtime, compile_config
from turnout.config.schema import TurnoutConfig
from turnout.conversations.holder import Holders
from turnout.conversations.service import conversations
from turnout.conversations.step import Conversations
from turnout.conversations.writer import WriteBehind
from turnout.dashboard.access import DashboardAccess, oidc_for
from turnout.dashboard.session import Sessions
from turnout.dashboard.static import StaticSite
from turnout.health.service import HealthService
from turnout.live import workers
from turnout.live.managed import admin_origin
from turnout.live.reloader import Reloader
from turnout.live.service import ManagedService
from turnout.live.source import ConfigSource, version_of
from turnout.live.store import MemoryManagedStore
from turnout.live.swap import Generation, build_generation, restart_sections
from turnout.live.watch import watch
from turnout.mcp.gate import McpGate
from turnout.oauth.attach import use_accounts
from turnout.observability.hub import Observability
from turnout.observability.logging import RequestLog, get_logger, use_console
from turnout.openai_batches.routes import OpenAIBatchService
from turnout.outbound import OutboundPolicy
from turnout.pipeline import build_pipeline
from turnout.plugins.service import Plugins
from turnout.server.limits import ServerLimits
from turnout.server.process import HideStreamAborts, watch_for_drain
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send
from turnout.upstream.pooled import PooledClient

if TYPE_CHECKING:
    from fastapi import FastAPI

log = get_logger("turnout")


class Gateway:
    """The ASGI application."""

    def __init__(
        self, state: GatewayState, source: ConfigSource | None = None, base: Runtime | None = None
    ) -> None:
        self.state = state
        s = state
        self.source = source  # where a reload reads the config again (turnout.live)
        self.base = base if base is not None else state.runtime  # before stored credentials
        self.generation: Generation | None = None
        self.reloader: Reloader | None = None
        self.managed: ManagedService | None = None
        self.policy: OutboundPolicy | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._stop_watch = asyncio.Event()
        # Read by the HTTP protocol for every connection (turnout.server.protocol).
        self.server_limits = ServerLimits.from_config(state.runtime.config.server)
        # Built before the router so the admin route can serve it; its tasks start in the
        # lifespan (docs/routing.md).
        self.health = HealthService(state.runtime)
        # Request log sinks, /metrics, capture (docs/observability.md); started in the lifespan.
        self.obs = state.observability = Observability(state.runtime, state.request_log)
        # Keys, limits, budgets (docs/keys-and-limits.md); loaded in the lifespan.
        self.auth = state.auth = AuthService(state.runtime)
        # The configured plugin pipeline (docs/plugins.md); absent from the chain when empty.
        self.plugins = state.plugins = Plugins(state.runtime)

        post, get, self.model_paths = client_routes(s)
        get["/admin/health"] = guard_admin_route(s, self.health.admin)
        get.update(self.obs.routes(s))
        self.routes: dict[str, dict[str, Route]] = {"POST": post, "GET": get, "HEAD": get}
        # Built on first use: FastAPI stays unimported till then (docs/measurements.md#memory).
        self.admin: FastAPI | None = None
        # The web UI (docs/dashboard.md): static files, and sessions for the admin API.
        state.dashboard = DashboardAccess(
            Sessions.for_gateway(self.auth.master), self.auth, oidc_for(state.runtime)
        )
        self.ui = StaticSite()
        # The MCP gateway (docs/mcp.md): /mcp, /mcp/{server}, /admin/mcp, its metadata.
        self.mcp = state.mcp = McpGate(state)
        self.health.sections["mcp_servers"] = self.mcp.status
        self.a2a = state.a2a = A2AService(state)  # agents behind /a2a (docs/a2a.md)
        self.conversations: Conversations | None = None  # built at startup
        self.batches = BatchService(state)  # Message Batches (docs/batches.md)
        self.openai_batches = OpenAIBatchService(state)  # docs/openai-batches.md
        self.pages = PageGuard()  # what a web page may not do while authentication is off
        self.cors = CorsGate(state.runtime.config.server.cors)  # pages of listed origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = inert(scope["path"], send)  # never a page on the dashboard's origin
            if not self.auth.active and await self.pages.refused(self.state, scope, send):
                return
            cors = self.cors.current
            if cors is not None:
                decorated = await cors.serve(scope, send)
                if decorated is None:
                    return  # a preflight, answered
                send = decorated
            table = self.routes.get(scope["method"])
            route = table.get(scope["path"]) if table is not None else None
            if route is None and table is self.routes["POST"]:
                for paths, actions in self.model_paths:
                    parts = paths.split(scope["path"])
                    if parts is not None:
                        route = actions.get(parts[1])
                        break
            if route is not None:
                await route(scope, receive, send)
                return
            await serve_other(self, scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # report, don't crash the server with a traceback
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        state = self.state
        self.policy = OutboundPolicy.from_config(state.runtime.config.outbound)
        state.client = PooledClient(self.policy)
        # The board was built with the app (admin routes hold the health service already).
        gen = build_generation(
            state.runtime, state.client, self.obs.providers, None, self.health.board
        )
        state.providers = gen.providers
        store = await self.obs.start(self.health.board)  # opens (and migrates) storage
        if store is not None:
            self.health.store = store  # health survives restarts (docs/storage.md)
        self.generation = gen
        self.health.router = gen.router
        # Provider accounts signed in with OAuth join the key pools (docs/oauth.md), before
        # health starts: their saved state is restored and the keeper probes them too.
        if any(p.auth == "oauth" for p in state.runtime.config.providers.values()):
            from turnout.oauth.service import start_accounts

            state.accounts = await start_accounts(
                state.runtime, self.health.board, self.obs.storage, self.policy
            )
        await self.health.start(state.providers, keeper=state.runtime.config.health.keeper)
        await self.auth.start(self.obs.storage, state.request_log, self.obs)
        state.cache = CacheService.create(state.runtime)
        if state.cache is not None:
            state.cache.start()
        storage = self.obs.storage
        self.conversations = conversations(
            state.runtime.config.storage,
            storage.stores.conversations if storage is not None else None,
        )
        health = self.health  # OpenAI-held responses: the serving providers and keys
        metrics = self.obs.metrics
        if metrics is not None and isinstance(self.conversations.store, WriteBehind):
            metrics.conversations = self.conversations.store  # its figures on /metrics
        holders = Holders(lambda: state.providers, lambda: health.board.all_keys())
        self.conversations.reach(holders, state.request_log, self.auth.limiter)
        self.batches.reach(
            storage.stores.batches if storage is not None else None,
            lambda: health.board.all_keys(),
        )
        self.openai_batches.reach(
            storage.stores.openai_batches if storage is not None else None,
            lambda: health.board.all_keys(),
        )
        self.plugins.start(gen.router)
        self.assemble()
        # again whenever auth, limits or plugins switch on or off
        self.auth.on_change = self.assemble
        watch_for_drain(state)  # before anything that may wait: a stop ends the wait
        await self._start_live()
        await self.mcp.start()
        state.request_log.start()
        logging.getLogger("uvicorn.error").addFilter(HideStreamAborts())
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # GC's full collections, which otherwise scan it each time (~100 ms pauses, a third
        # of a core at 5k req/s; docs/observability.md has the measurement), and keep young
        # collections off the request path (turnout.allocator).
        allocator.settle()
        self._spawn(allocator.keep_trimmed(on_trim=_note_trim))
        state.ready = True
        log.info(
            "started",
            providers=sorted(state.runtime.providers),
            models=state.runtime.public_models(),
        )

    def assemble(self) -> None:
        """Build the pipeline around the current generation's router: one assignment, read
        once by each request as it starts (in-flight requests keep the one they started on)."""
        assert self.generation is not None
        assert self.conversations is not None
        auth, cache, capture = self.auth, self.state.cache, self.obs.capture
        services = {
            "capture": capture.step if capture is not None else None,
            "auth": auth.step if auth.active else None,
            "limits": auth.limit_step if auth.active and auth.limited else None,
            "cache": cache.step if cache is not None else None,
        }
        # Responses conversations are expanded right before the cache (its key then covers
        # the whole conversation) and recorded for cached answers too.
        conversation = self.conversations.step
        steps = self.plugins.steps(services, {"cache": conversation})
        router = self.generation.router
        # Only the Responses API's calls go through that step: the other protocols' chain
        # leaves it out (one coroutine less that every resume of their call passes through).
        self.state.handlers = {"responses": build_pipeline(steps, router)}
        self.state.handler = build_pipeline([s for s in steps if s != conversation], router)

    # -- live configuration (turnout.live) --------------------------------------------------
    async def _start_live(self) -> None:
        status = workers.status_dir()
        self.reloader = Reloader(
            self.source,
            self.base.config,
            version_of(self.state.runtime.config),
            self._prepare,
            self._apply,
        )
        self.state.reloader = self.reloader
        if self.obs.metrics is not None:
            self.obs.metrics.reloader = self.reloader
        await self._start_managed()
        if status is not None:
            assert self.reloader is not None
            await workers.join(
                status, self.reloader, self._loaded, lambda: self.state.draining, self._spawn
            )
        loop = asyncio.get_running_loop()
        file = self.source.file if self.source is not None and self.source.watch else None
        if file is not None:
            self._spawn(watch(file, self.reloader.reload, self._stop_watch))
        with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self._hangup)

    def _loaded(self) -> bool:
        """Gateway keys and stored providers are loaded from the database (or none is used)."""
        managed = self.managed
        return self.auth.directory.loaded and (managed is None or managed.version >= 0)

    async def _start_managed(self) -> None:
        """Providers and models stored through the admin API join the config before the
        first request; with a shared database, other processes' changes are polled."""
        assert self.reloader is not None and self.policy is not None
        storage = self.obs.storage
        store = storage.stores.managed if storage is not None else None
        shared = storage is not None and storage.backend.shared
        managed = ManagedService(
            store or MemoryManagedStore(), self.reloader, self.policy, shared and store is not None
        )
        self.managed = self.state.managed = managed
        try:
            version, entries = await managed.load()
        except Exception as exc:  # serve the file; the poll retries the database
            log.error("stored providers and models not loaded", error=repr(exc)[:300])
        else:
            managed.version = version
            if entries:
                await self.reloader.reload("start", reread=False)
        if managed.shared:
            self._spawn(managed.poll_forever())

    def _hangup(self) -> None:
        """SIGHUP reloads the config; it never kills a serving gateway."""
        log.info("SIGHUP received: reloading the config")
        if self.reloader is not None:
            self._spawn(self.reloader.reload("SIGHUP"))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _prepare(self, config: TurnoutConfig) -> Runtime:
        """A config read from the source, compiled, with what the database adds: providers
        and models of the admin API (turnout.live.managed), then stored provider keys."""
        admin: list[str] = []
        if self.managed is not None:
            config, admin = await self.managed.overlay(config)
        runtime = admin_origin(compile_config(config), admin)
        return await self.auth.with_stored_keys(runtime)

    async def _apply(self, runtime: Runtime) -> list[str]:
        """Build the new generation beside the serving one, then swap it in."""
        state = self.state
        assert state.client is not None and self.generation is not None
        gen = build_generation(runtime, state.client, self.obs.providers, self.generation)
        restart = restart_sections(state.runtime, runtime)
        # The swap: nothing below awaits, so no request sees half of it.
        self.generation = gen
        state.runtime = runtime
        state.providers = gen.providers
        self.health.use(runtime, gen.board, gen.router, gen.providers)
        use_accounts(state, runtime, gen.board, self.obs.storage, self._spawn)
        self.obs.use(runtime, gen.board)
        self.auth.use(runtime)
        self.cors.use(runtime.config.server.cors)
        self.plugins.start(gen.router)
        self.plugins.reload(runtime)
        self.a2a.reload()  # the file's and the stored agents; unchanged ones keep their cards
        if state.cache is not None:
            state.cache.use(runtime)
        self.assemble()
        return restart

    async def shutdown(self) -> None:
        state = self.state
        state.draining = True
        state.ready = False
        self._stop_watch.set()
        with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task
        await self.health.stop()
        await self.mcp.stop()
        if state.accounts is not None:
            await state.accounts.stop()
        if state.cache is not None:
            await state.cache.stop()
        if self.conversations is not None:
            await self.conversations.stop()  # its pending records, before storage closes
        await self.obs.stop()  # flushes the request log to the database (or its spool)
        await self.auth.stop()  # after the log's last settlements
        for provider in state.providers.values():
            await provider.close()
        if state.client is not None:
            await state.client.close()


def _note_trim(seconds: float) -> None:
    log.debug("heap trimmed", ms=round(seconds * 1000, 3))


def create_app(runtime: Runtime, source: ConfigSource | None = None) -> Gateway:
    """Build the gateway for one compiled configuration; ``source`` is where a reload reads
    it again (without one, a reload re-reads only what the database holds)."""
    base = runtime
    runtime = apply_stored(runtime)  # provider keys stored through /admin/credentials
    config = runtime.config
    state = GatewayState(
        runtime=runtime,
        request_log=RequestLog(
            enabled=config.logging.requests, console=use_console(config.logging.format)
        ),
    )
    return Gateway(state, source, base)

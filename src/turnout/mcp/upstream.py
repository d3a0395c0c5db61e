"""One upstream MCP server, held open by a supervisor task.

The supervisor connects (Streamable HTTP, legacy HTTP+SSE, or a stdio child process started
from the config file), performs the handshake, fetches the server's tools, prompts, resources
and resource templates into a catalogue, then pings it every ``health_interval``. Whatever
breaks (refused connection, failed handshake, a ping that times out) marks the server down
and the supervisor reconnects with a doubling backoff, moving to the next URL each time, so
a server with several URLs fails over. Callers never wait for a connection: a down server's
requests fail at once with a JSON-RPC error, and the aggregate lists are built from the
catalogues, so a slow or dead server never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from turnout.mcp.auth import auth_headers, upstream_auth
from turnout.mcp.capped import COMPRESSED, MARK, capped_client
from turnout.mcp.catalogue import Catalogue, changed, dump, lawful, pages
from turnout.mcp.children import Children
from turnout.mcp.config import McpServerConfig
from turnout.mcp.echoes import masked, masked_text, sent_to
from turnout.mcp.names import allowed, matches
from turnout.mcp.sizes import json_size
from turnout.observability.logging import get_logger
from turnout.outbound import OutboundPolicy
from turnout.outbound.display import display_url, scrub_urls
from turnout.outbound.policy import Origin

log = get_logger("turnout.mcp")

State = Literal["connecting", "up", "down", "stopped", "passthrough"]
# JSON-RPC error codes the gateway answers with (the MCP SDK's constants where it has one).
UNAVAILABLE = types.CONNECTION_CLOSED
TIMEOUT = types.REQUEST_TIMEOUT
TOO_LARGE = types.INTERNAL_ERROR
_BACKOFF_MAX = 30.0
_IDLE = 300.0  # seconds before an unused one is closed

Notify = Callable[["Upstream", Any], Awaitable[None]]


class Upstream:
    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        policy: OutboundPolicy,
        origin: Origin = Origin.CONFIG,
        notify: Notify | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.policy = policy
        self.origin = origin
        self.notify = notify
        self.state: State = "connecting"
        self.error: str | None = None
        self.endpoint: str | None = None  # the URL (or program) currently used
        self.since = time.time()
        self.catalogue = Catalogue()
        self.capabilities: dict[str, Any] = {}
        self.client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh = asyncio.Event()
        self._broken = asyncio.Event()
        self._attempt = 0
        self.settled = asyncio.Event()  # the first connection attempt is over
        self.used = time.monotonic()  # a passthrough child's last use
        self._children: Children[Upstream] = Children()  # by caller (turnout.mcp.children)
        self._auth: Any = None  # the connection's OAuth flow, whose token is masked (echoes.py)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """This connection, for subscriptions: a passthrough caller's updates are its own."""
        return f"{self.name}#{id(self):x}"

    @property
    def passthrough(self) -> bool:
        auth = self.config.auth
        return auth is not None and auth.type == "passthrough"

    def start(self) -> None:
        if self.passthrough:  # no connection of its own: one per caller (child_for)
            self._set("passthrough", None)
            return
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def child_for(self, credential: str | None, owner: str = "") -> Upstream:
        """The caller's own connection to a passthrough server, opened on first use (and
        waited for, within the connect timeout), closed after ``_IDLE`` seconds unused.
        ``owner`` is the caller's gateway key: it holds a bounded number of connections and
        can only push out its own (:mod:`turnout.mcp.children`)."""
        if not credential:
            raise MCPError(
                types.INVALID_REQUEST,
                f"MCP server '{self.name}' needs your own credential: send it as "
                f"x-mcp-{self.name}-authorization",
            )
        digest = hashlib.sha256(credential.encode()).hexdigest()
        child = self._children.get(owner, digest)
        if child is None:
            for old in self._children.idle(time.monotonic() - _IDLE):
                await old.stop()
            headers = {**self.config.headers, "Authorization": credential}
            cfg = self.config.model_copy(update={"auth": None, "headers": headers})
            child = Upstream(self.name, cfg, self.policy, self.origin, self.notify)
            for old in self._children.add(owner, digest, child):
                await old.stop()
            child.start()
        child.used = time.monotonic()
        if child.state == "connecting":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.timeouts.connect):
                    await child.settled.wait()
        return child

    async def stop(self) -> None:
        for child in self._children.clear():
            await child.stop()
        task, self._task = self._task, None
        # Cancelled until it ends: a cancel that lands inside a transport's anyio task group
        # can be absorbed there, and the supervisor would go on reconnecting (an evicted
        # passthrough connection's stop then never returned, holding its caller's request).
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled():
            with contextlib.suppress(BaseException):
                task.exception()
        self._set("stopped", None)

    def _set(self, state: State, error: str | None) -> None:
        if state in ("up", "down"):
            self.settled.set()
        if state != self.state:
            self.since = time.time()
            (log.info if state in ("up", "passthrough") else log.warning)(
                "mcp server " + state, server=self.name, endpoint=self.endpoint, error=error
            )
        self.state, self.error = state, error

    async def _supervise(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._serve_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # an ExceptionGroup from a transport's task group
                was_up = self.state == "up"
                self._set("down", masked_text(_describe(exc), self.secrets()))
                if was_up:  # its items are no longer listed
                    await self._announce(None)
            finally:
                self.client = None
            self._attempt += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _serve_once(self) -> None:
        cfg = self.config
        async with AsyncExitStack() as stack:
            if self.state != "up":
                self._set("connecting" if self.state == "connecting" else "down", self.error)
            async with asyncio.timeout(cfg.timeouts.connect):
                client = await stack.enter_async_context(await self._client())
                self.capabilities = dump(client.server_capabilities)
                await self._fetch(client)
            self.client = client
            self._broken.clear()
            self._set("up", None)
            await self._announce(None)
            await self._watch(client)

    async def _client(self) -> Client:
        cfg = self.config
        if cfg.transport == "stdio":
            self.endpoint = cfg.command[0]
            params = StdioServerParameters(
                command=cfg.command[0], args=cfg.command[1:], env=cfg.env or None, cwd=cfg.cwd
            )
            transport: Any = stdio_client(params)
        else:
            urls = cfg.endpoints()
            url = urls[self._attempt % len(urls)]
            self.endpoint = display_url(url)  # shown in status and logs: no credentials
            if self.policy.checked(self.origin):  # admin-added: resolved and checked each time
                await self.policy.check(url, self.origin)
            auth = self._auth = upstream_auth(cfg)
            headers = auth_headers(cfg)
            timeout = httpx2.Timeout(cfg.timeouts.connect, read=max(cfg.timeouts.call, 300.0))
            limit = cfg.max_message_bytes  # answers are bounded as they are read (capped.py)
            if cfg.transport == "sse":
                transport = sse_client(
                    url,
                    headers=headers,
                    timeout=cfg.timeouts.connect,
                    sse_read_timeout=max(cfg.timeouts.call, 300.0),
                    httpx_client_factory=functools.partial(capped_client, limit),
                    auth=auth,
                )
            else:
                http = capped_client(limit, headers=headers, timeout=timeout, auth=auth)
                transport = streamable_http_client(url, http_client=http)
        return Client(
            transport,
            mode="legacy",
            cache=None,
            read_timeout_seconds=cfg.timeouts.call,
            message_handler=self._on_message,
            client_info=types.Implementation(name="turnout", version="1"),
        )

    async def _watch(self, client: Client) -> None:
        """Ping while healthy; refetch the catalogue when the server says it changed."""
        cfg = self.config
        while True:
            waiters = {
                asyncio.ensure_future(self._refresh.wait()),
                asyncio.ensure_future(self._broken.wait()),
            }
            _done, pending = await asyncio.wait(waiters, timeout=cfg.health_interval)
            for w in pending:
                w.cancel()
            if self._broken.is_set():
                raise ConnectionError("the connection broke")
            if self._refresh.is_set():
                self._refresh.clear()
                old = self.catalogue
                await self._fetch(client)
                await self._announce(old)
                continue
            with anyio.fail_after(cfg.timeouts.connect):
                await client.send_ping()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):  # a transport error: reconnect
            self._broken.set()
            return
        if isinstance(
            message,
            types.ToolListChangedNotification
            | types.PromptListChangedNotification
            | types.ResourceListChangedNotification,
        ):
            self._refresh.set()
        if self.notify is not None and isinstance(message, types.ResourceUpdatedNotification):
            await self.notify(self, message)

    async def _announce(self, old: Catalogue | None) -> None:
        """Tell the service which lists changed (``old`` None: the server came or went, so
        every list it has), for ``subscriptions/listen`` streams."""
        notify = self.notify
        if notify is None:
            return
        for note in changed(old, self.catalogue):
            with contextlib.suppress(Exception):
                await notify(self, note())

    async def _fetch(self, client: Client) -> None:
        """Every list the server offers (all pages), filtered by the server's allow/deny."""
        caps = client.server_capabilities
        cat = Catalogue(fetched_at=time.time())
        flt = self.config.tools
        room = 4 * self.config.max_message_bytes  # bytes of one list kept (catalogue.py)
        with anyio.fail_after(self.config.timeouts.list):
            if caps.tools is not None:
                cat.tools = await pages(client.session.list_tools, "tools", room, self.name)
            if caps.prompts is not None:
                cat.prompts = await pages(client.session.list_prompts, "prompts", room, self.name)
            if caps.resources is not None:
                cat.resources = await pages(
                    client.session.list_resources, "resources", room, self.name
                )
                cat.templates = await pages(
                    client.session.list_resource_templates, "resourceTemplates", room, self.name
                )
        cat.tools = [t for t in cat.tools if allowed(flt.allow, flt.deny, str(t.get("name")))]
        cat.prompts = [p for p in cat.prompts if allowed(flt.allow, flt.deny, str(p.get("name")))]
        cat.resources = [r for r in cat.resources if allowed(flt.allow, flt.deny, str(r["uri"]))]
        cat.templates = [
            t for t in cat.templates if allowed(flt.allow, flt.deny, str(t["uriTemplate"]))
        ]
        lawful(cat, self.name)  # names a caller (and a model API) can take (catalogue.py)
        mine = self.secrets()
        cat.tools, cat.prompts = masked(cat.tools, mine), masked(cat.prompts, mine)
        cat.resources, cat.templates = masked(cat.resources, mine), masked(cat.templates, mine)
        self.catalogue = cat

    # -- requests -------------------------------------------------------------------------------
    def exposes(self, name: str) -> bool:
        """The server's own filter: a hidden item cannot be called either."""
        flt = self.config.tools
        return allowed(flt.allow, flt.deny, name)

    def denies(self, name: str) -> bool:
        """Whether the server's own filter denies ``name`` outright (a URI a template made)."""
        return matches(self.config.tools.deny, name)

    async def request(
        self, what: str, fn: Callable[[Client], Awaitable[BaseModel]]
    ) -> dict[str, Any]:
        """Run one request on the live connection, as a wire dict, within the call timeout."""
        client = self.client
        if client is None or self.state != "up":
            raise MCPError(UNAVAILABLE, f"MCP server '{self.name}' is unavailable ({self.state})")
        timeout = self.config.timeouts.call
        try:
            with anyio.fail_after(timeout + 1.0):  # the SDK's own read timeout fires first
                result = await fn(client)
        except TimeoutError:
            raise MCPError(
                TIMEOUT, f"MCP server '{self.name}' did not answer {what} within {timeout:g}s"
            ) from None
        except MCPError as exc:
            if exc.code == TIMEOUT:
                raise MCPError(
                    TIMEOUT, f"MCP server '{self.name}' did not answer {what} within {timeout:g}s"
                ) from None
            if MARK in exc.message:  # the SDK's error for a body refused while read
                if COMPRESSED in exc.message:
                    raise MCPError(
                        TOO_LARGE,
                        f"MCP server '{self.name}' answered {what} compressed, which the "
                        "gateway did not ask for (its size cannot be bounded as it is read)",
                    ) from None
                raise self._too_large(what) from None
            mine = self.secrets()  # the server may quote what it was sent (echoes.py)
            told = masked_text(exc.message, mine)
            raise MCPError(exc.code, told, masked(exc.error.data, mine)) from None
        except Exception as exc:  # anything else is a broken upstream, not the caller's fault
            self._broken.set()
            failed = masked_text(_describe(exc), self.secrets())
            raise MCPError(UNAVAILABLE, f"MCP server '{self.name}' failed: {failed}") from None
        data = dump(result)
        # 2026-era callers need it; the SDK drops it for older ones.
        data.setdefault("resultType", "complete")
        if json_size(data) > self.config.max_message_bytes:
            raise self._too_large(what)
        clean: dict[str, Any] = masked(data, self.secrets())  # a quoted credential (echoes.py)
        return clean

    def secrets(self) -> tuple[str, ...]:
        return sent_to(self.config, self._auth)

    def _too_large(self, what: str) -> MCPError:
        return MCPError(
            TOO_LARGE,
            f"MCP server '{self.name}' answered {what} with more than "
            f"{self.config.max_message_bytes} bytes",
        )

    def status(self) -> dict[str, Any]:
        cat = self.catalogue
        return {
            "name": self.name,
            "transport": self.config.transport,
            "endpoint": self.endpoint,
            "state": self.state,
            "error": self.error,
            "since": self.since,
            "source": self.origin.value,
            "tools": len(cat.tools),
            "prompts": len(cat.prompts),
            "resources": len(cat.resources),
            "resource_templates": len(cat.templates),
            "callers": len(self._children) if self.passthrough else None,
        }


def _describe(exc: BaseException) -> str:
    """One line for logs and status: never a header or a token (exceptions here come from
    transports and carry URLs at most)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = scrub_urls(str(exc)) or type(exc).__name__  # an httpx error names its URL
    return f"{type(exc).__name__}: {text}"[:300]

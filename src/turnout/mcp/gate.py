"""The MCP gateway's one registration in the app: the paths it claims and their handler.

Light on purpose: the MCP SDK is imported (by :mod:`.service`) only when a gateway has MCP
servers to serve, so gateways without them pay nothing. Claims ``/mcp``, ``/mcp/{server}``,
the protected-resource metadata (RFC 9728) at ``/.well-known/oauth-protected-resource``,
and the admin routes under ``/admin/mcp``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from turnout.api.io import ClientDisconnected, StreamAborted, read_body, send_bytes
from turnout.errors import GatewayError, Overloaded, PayloadTooLarge
from turnout.mcp.access import OPEN, Access, Layer
from turnout.mcp.sessions import SESSION_HEADER, KeySessions
from turnout.mcp.standing import SWEEP, LiveRequests, Standing, standing_of, still
from turnout.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from turnout.mcp.service import McpService
    from turnout.state import GatewayState

PATH = "/mcp"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
ADMIN = "/admin/mcp"
_JSON = (b"content-type", b"application/json")


def jsonrpc_error(code: int, message: str) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})


_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


def base_url(scope: Scope) -> str:
    """This gateway's origin as the client reached it (for the metadata document). The Host
    header is the client's: anything but a plain host[:port] is replaced, so it cannot shape
    the challenge header or the document."""
    headers = dict(scope["headers"])
    host = headers.get(b"host", b"").decode("latin-1")
    if not _HOST.match(host):
        server = scope.get("server") or ("127.0.0.1", 4141)
        host = f"{server[0]}:{server[1]}"
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return f"{scheme}://{host}"


class McpGate:
    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.service: McpService | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions = KeySessions()  # open sessions per key (one key cannot take them all)
        self.requests = LiveRequests()  # ended when their key no longer stands (standing.py)

    @staticmethod
    def claims(path: str) -> bool:
        return (
            path in (PATH, ADMIN)
            or path.startswith(PATH + "/")
            or path.startswith(WELL_KNOWN)
            or path.startswith(ADMIN + "/")
        )

    async def start(self) -> None:
        if self.state.runtime.config.mcp_servers:
            await self.ensure()
        reloader = self.state.reloader
        if reloader is not None:  # a reloaded config file brings its mcp_servers along
            reloader.on_change.append(self._reloaded)
        auth = self.state.auth
        if auth is not None:  # a key revoked, rotated or changed: its streams end
            auth.directory.on_change.append(self._sweep)
            self._spawn(self._sweep_every())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _sweep(self) -> None:
        """End the requests and sessions of every key that no longer stands as it did."""
        auth = self.state.auth
        if auth is None:
            return
        directory = auth.directory
        self.requests.sweep(directory)
        if self.sessions.open:
            now = datetime.now(UTC)
            self._spawn(self.sessions.end(lambda k, was: not still(directory, k, was, now)))

    async def _sweep_every(self) -> None:
        """Keys also stop standing without a change to the directory: they expire."""
        while True:
            await asyncio.sleep(SWEEP)
            if self.requests.live or self.sessions.open:
                self._sweep()

    def _reloaded(self) -> None:
        if self.service is None and not self.state.runtime.config.mcp_servers:
            return
        self._spawn(self._follow())

    async def _follow(self) -> None:
        await self.follow()

    async def follow(self) -> McpService:
        """Serve the servers of the config serving now: the file's and those stored through
        the admin API (read when this runs, so a late task never brings back an old set)."""
        service = await self.ensure()
        await service.reconfigure(self.state.runtime.config.mcp_servers)
        return service

    async def ensure(self) -> McpService:
        """The service, started on first need (a server added through the admin API)."""
        if self.service is None:
            from turnout.mcp.service import McpService

            service = McpService(self.state)
            await service.start()
            self.service = service
        return self.service

    def status(self) -> list[dict[str, Any]]:
        """Every server's state, for ``/admin/health`` and ``turnout status``."""
        return self.service.status() if self.service is not None else []

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.service is not None:
            await self.service.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(WELL_KNOWN):
            await self._metadata(scope, send)
            return
        if path == ADMIN or path.startswith(ADMIN + "/"):
            from turnout.api.admin_headers import hardened
            from turnout.mcp.admin import serve_admin

            await serve_admin(self, scope, receive, hardened(send, path))
            return
        await self._mcp(scope, receive, send)

    async def _metadata(self, scope: Scope, send: Send) -> None:
        base = base_url(scope)
        doc = {
            "resource": base + PATH,
            "authorization_servers": [],
            "bearer_methods_supported": ["header"],
            "resource_name": "Turnout MCP gateway",
            "resource_documentation": "Send a Turnout gateway key as 'Authorization: Bearer'.",
        }
        await send_bytes(send, 200, [_JSON], orjson.dumps(doc))

    async def identify(self, scope: Scope) -> Access | GatewayError:
        """The caller's access, or why not (a missing or invalid key, keys not loaded yet)."""
        auth = self.state.auth
        if auth is None or not auth.active:
            return OPEN
        headers = dict(scope["headers"])
        try:
            principal = await auth.identify(headers, b"")
        except GatewayError as exc:
            return exc
        key = auth.directory.keys.get(principal.id)
        team = auth.directory.teams.get(principal.team) if principal.team else None
        return Access(
            key_id=principal.id,
            team=principal.team,
            key=Layer.of(key.metadata if key is not None else None),
            team_layer=Layer.of(team.metadata if team is not None else None),
        )

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = scope["path"][len(PATH) :].strip("/")
        access = await self.identify(scope)
        if isinstance(access, GatewayError):
            if access.status != 401:  # keys not loaded yet: 503 with Retry-After
                body = jsonrpc_error(-32603, access.message)
                await send_bytes(send, access.status, [_JSON, *access.headers()], body)
                return
            challenge = f'Bearer resource_metadata="{base_url(scope)}{WELL_KNOWN}"'
            body = jsonrpc_error(-32001, "Missing or invalid gateway key (Authorization: Bearer).")
            await send_bytes(send, 401, [_JSON, (b"www-authenticate", challenge.encode())], body)
            return
        service = self.service
        server = rest or None
        if service is None or (server is not None and server not in service.upstreams):
            await self._not_found(send, server)
            return
        if server is not None and not access.server(server):
            await self._not_found(send, server)  # a denied server looks like no server
            return
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        from turnout.mcp.views import SCOPE_KEY

        scope = dict(scope)
        scope[SCOPE_KEY] = access
        if access.key_id is not None:  # sessions belong to the key that opened them
            scope["user"] = AuthenticatedUser(
                AccessToken(token=access.key_id, client_id=access.key_id, scopes=[])
            )
        auth = self.state.auth  # the key's standing as it authenticated (standing.py)
        standing = standing_of(auth.directory, access) if auth is not None else None
        manager = await service.manager(server)
        key = access.key_id
        headers = dict(scope["headers"])
        opens = scope["method"] == "POST" and SESSION_HEADER not in headers
        if key is not None and opens and self.sessions.full(key):
            refusal = jsonrpc_error(
                -32029,
                f"This key has {self.sessions.limit} MCP sessions open: end one (DELETE with its "
                "mcp-session-id) before opening another.",
            )
            await send_bytes(send, 429, [_JSON, (b"retry-after", b"60")], refusal)
            return
        held = await self._read(receive, send, headers)
        if held is None:
            return
        try:
            replay = _replay(held, receive)
            if key is None or standing is None:  # an open gateway, the master key
                await manager.handle_request(scope, replay, send)
                return
            await self._held(key, standing, manager, scope, replay, send, opens)
        finally:
            self.state.bodies.release(held)

    async def _held(
        self,
        key: str,
        standing: Standing,
        manager: StreamableHTTPSessionManager,
        scope: Scope,
        receive: Receive,
        send: Send,
        opens: bool,
    ) -> None:
        """Serve a request of ``key`` until it ends, or until the key no longer stands as it
        did (revoked, rotated, its MCP rules changed: :mod:`.standing`)."""
        started = False

        async def noting(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        with self.requests.held(key, standing) as cancel:
            if not opens:
                await manager.handle_request(scope, receive, noting)
            else:
                opening = self.sessions.opened(key, standing, manager, noting)
                try:
                    await manager.handle_request(scope, receive, opening.send)
                finally:
                    opening.close()
        if not cancel.cancelled_caught:
            return
        if started:  # a stream: cut, so the client knows it is over
            raise StreamAborted("the key of this MCP stream was revoked or changed")
        body = jsonrpc_error(-32001, "This gateway key was revoked or changed; send a valid key.")
        await send_bytes(send, 401, [_JSON], body)

    async def _read(
        self, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> bytes | None:
        """The request's body, read by the gateway rather than the SDK (whose own bound is per
        request): counted with every other body held (``server.max_held_body_bytes``,
        :mod:`turnout.api.bodies`), and refused in JSON-RPC's shape, which the SDK's client
        raises as an ``MCPError``. None when it was refused (answered) or its client left."""
        server = self.state.runtime.config.server
        try:
            return await read_body(
                receive,
                headers,
                server.max_body_bytes,
                self.state.bodies,
                server.max_held_body_bytes,
            )
        except PayloadTooLarge as exc:
            await send_bytes(send, 413, [_JSON], jsonrpc_error(-32600, exc.message))
        except Overloaded as exc:
            body = jsonrpc_error(-32603, exc.message)
            await send_bytes(send, 503, [_JSON, *exc.headers()], body)
        except ClientDisconnected:
            pass
        return None

    async def _not_found(self, send: Send, server: str | None) -> None:
        what = f"MCP server '{server[:100]}'" if server else "MCP server"
        body = jsonrpc_error(-32601, f"No {what} is configured at this path.")
        await send_bytes(send, 404, [_JSON], body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then whatever the client sends next
    (its disconnect, which the SDK's streams wait for)."""
    first = True

    async def replay() -> Message:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

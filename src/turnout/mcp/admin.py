"""``/admin/mcp``: the MCP servers, their tools, and tool-call usage; adding and removing
HTTP servers at run time.

    GET    /admin/mcp/servers           every server: state, endpoint, item counts
    GET    /admin/mcp/tools[?server=S]  the tools as the aggregate names them
    GET    /admin/mcp/usage             tool calls per server and tool since start
    POST   /admin/mcp/servers           {"name": ..., <an mcp_servers entry>}: HTTP servers only
    DELETE /admin/mcp/servers/{name}    a server added here (config servers stay)

A server added here is stored in the database (:mod:`turnout.mcp.managed`): it survives a
restart and every replica sharing the database serves it. It is never a stdio command (a
command line from an API call would run on the gateway's host), and its URLs must pass the
outbound policy as admin destinations: public addresses only, unless ``outbound.allow``
admits them. Same rules as the admin API: the master key or an admin key (a viewer may
read); secrets are never shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from pydantic import ValidationError

from turnout.api.io import ClientDisconnected, read_body, send_bytes
from turnout.auth.guard import authorize
from turnout.auth.service import AdminDenied
from turnout.errors import OutboundRefused, Overloaded, PayloadTooLarge
from turnout.mcp.config import McpServerConfig, valid_server_name
from turnout.mcp.managed import STDIO_REFUSED
from turnout.mcp.names import join
from turnout.outbound.policy import Origin
from turnout.types import Headers, Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.mcp.gate import McpGate

_JSON = (b"content-type", b"application/json")
_MAX_BODY = 256 * 1024
KIND = "mcp_server"  # its kind among the admin API's stored entries (turnout.live.managed)


async def _reply(send: Send, status: int, data: Any, extra: Headers | None = None) -> None:
    await send_bytes(send, status, [_JSON, *(extra or ())], orjson.dumps(data))


async def _body(gate: McpGate, scope: Scope, receive: Receive, send: Send) -> bytes | None:
    """The request's body, at most 256 KiB, counted with every other body held
    (``server.max_held_body_bytes``, :mod:`turnout.api.bodies`); None when it was refused
    (answered) or its client left."""
    state = gate.state
    room = state.runtime.config.server.max_held_body_bytes
    try:
        return await read_body(receive, dict(scope["headers"]), _MAX_BODY, state.bodies, room)
    except PayloadTooLarge:
        await _reply(send, 413, {"detail": "Body too large."})
    except Overloaded as exc:
        await _reply(send, 503, {"detail": exc.message}, exc.headers())
    except ClientDisconnected:
        pass
    return None


async def serve_admin(gate: McpGate, scope: Scope, receive: Receive, send: Send) -> None:
    state = gate.state
    method: str = scope["method"]
    if state.auth is not None:
        try:
            authorize(state, dict(scope["headers"]), method)
        except AdminDenied as exc:
            await _reply(send, exc.status, {"detail": exc.message})
            return
    parts = scope["path"].rstrip("/").split("/")[3:]  # after /admin/mcp
    service = gate.service
    if method == "GET" and parts == ["servers"]:
        await _reply(send, 200, {"servers": service.status() if service else []})
    elif method == "GET" and parts == ["tools"]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        only = (query.get("server") or [None])[0]
        tools = []
        for up in service.upstreams.values() if service else ():
            if only is not None and up.name != only:
                continue
            for tool in up.catalogue.tools:
                name = str(tool.get("name"))
                tools.append(
                    {
                        "server": up.name,
                        "name": join(up.name, name),
                        "tool": name,
                        "description": tool.get("description"),
                    }
                )
        await _reply(send, 200, {"tools": tools})
    elif method == "GET" and parts == ["usage"]:
        await _reply(send, 200, {"usage": service.usage.report() if service else []})
    elif method == "POST" and parts == ["servers"]:
        raw = await _body(gate, scope, receive, send)
        if raw is not None:
            try:
                await _add(gate, raw, send)
            finally:
                state.bodies.release(raw)
    elif method == "DELETE" and len(parts) == 2 and parts[0] == "servers":
        await _remove(gate, parts[1], send)
    else:
        await _reply(send, 404, {"detail": "Not Found"})


async def _add(gate: McpGate, raw: bytes, send: Send) -> None:
    """Stored as a managed entry (kind ``mcp_server``): validated as the config it makes,
    kept in the database, served by every replica; applied here before the answer."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        await _reply(send, 400, {"detail": "Expected a JSON object."})
        return
    name = data.pop("name", None)
    if not isinstance(name, str) or not valid_server_name(name):
        await _reply(send, 400, {"detail": "name: [a-z][a-z0-9-]*, at most 63 characters."})
        return
    if data.get("transport") == "stdio" or "command" in data:
        await _reply(send, 400, {"detail": STDIO_REFUSED + "."})
        return
    try:
        cfg = McpServerConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors()]
        await _reply(send, 400, {"detail": "; ".join(problems)[:2000]})
        return
    managed = gate.state.managed
    if managed is None:
        await _reply(send, 503, {"detail": "The gateway is still starting."})
        return
    try:
        for url in cfg.endpoints():
            await managed.policy.check(url, Origin.ADMIN)
    except OutboundRefused as exc:
        await _reply(send, 403, {"detail": exc.message})
        return
    outcome = await managed.put(KIND, name, data)
    if outcome.status >= 300:
        await _reply(send, outcome.status, outcome.body)
        return
    service = await gate.follow()
    up = service.upstreams.get(name)
    await _reply(send, outcome.status, up.status() if up is not None else outcome.body)


async def _remove(gate: McpGate, name: str, send: Send) -> None:
    managed = gate.state.managed
    if managed is None:
        await _reply(send, 503, {"detail": "The gateway is still starting."})
        return
    outcome = await managed.delete(KIND, name)
    if outcome.status == 404:
        up = gate.service.upstreams.get(name) if gate.service is not None else None
        if up is not None and up.origin is Origin.CONFIG:
            await _reply(send, 409, {"detail": f"'{name[:100]}' is defined in the config file."})
        else:
            await _reply(send, 404, {"detail": f"No MCP server '{name[:100]}' stored."})
        return
    if outcome.status >= 300:
        await _reply(send, outcome.status, outcome.body)
        return
    await gate.follow()
    await _reply(send, 200, {"removed": name})

"""What is not a model call on an exact path: stored responses, Message Batches, OpenAI's
Batch API, MCP, A2A, the admin API, the dashboard, and a 404 in the protocol the path implies.

Apart from :class:`turnout.app.Gateway` so that the hot path's dispatch stays one page; these
services are reached only after the model routes' dict look-ups missed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from turnout.api import admin
from turnout.api.io import request_id, send_error
from turnout.conversations import routes as responses_route
from turnout.dashboard.static import PREFIX as UI
from turnout.errors import NotFound
from turnout.protocols.registry import dialect
from turnout.types import Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.app import Gateway

UI_DIR = UI + "/"


async def serve_other(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"]
    if gw.conversations is not None and responses_route.claims(scope):
        await responses_route.serve(gw.state, gw.conversations, scope, send)
    elif gw.batches.claims(scope):
        await gw.batches(scope, receive, send)
    elif gw.openai_batches.claims(scope):
        await gw.openai_batches(scope, receive, send)
    elif gw.mcp.claims(path):
        await gw.mcp(scope, receive, send)
    elif gw.a2a.claims(path):
        await gw.a2a(scope, receive, send)
    elif path.startswith(admin.PREFIXES):
        if gw.admin is None:
            gw.admin = admin.build_admin(gw.state)
        await gw.admin(scope, receive, send)
    elif path == UI or path.startswith(UI_DIR):
        await gw.ui(scope, receive, send)
    else:
        rid = request_id(dict(scope["headers"]))
        err = NotFound(f"Unknown route: {scope['method']} {path}")
        await send_error(send, err, dialect(path).name, rid)

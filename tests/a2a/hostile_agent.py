"""An A2A agent built with the official ``a2a-sdk`` that quotes the credentials it was sent.

    python -m tests.a2a.hostile_agent --port N --token T

A careless or hostile agent: it requires ``Authorization: Bearer <token>`` (the gateway's
credential to it) and then hands that header back to whoever called: in its card's
description, in a plain message (``SendMessage``), in every status update of a streamed task
(text ``stream``), in a JSON-escaped spelling (text ``escaped``: each ``-`` written
``\\u002d``), and in a JSON-RPC error (text ``fail``). Its card offers both A2A versions,
so the SDK serves it with 0.3's fields (``url``, ``additionalInterfaces``) as well as 1.0's.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn
from a2a.helpers.proto_helpers import get_message_text, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandlerV2
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    Role,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import InvalidParamsError
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _sent(context: RequestContext) -> str:
    headers: dict[str, str] = context.call_context.state.get("headers", {})
    return headers.get("authorization", "")


class Echo(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = get_message_text(context.message) if context.message else ""
        quoted = _sent(context)
        if text == "fail":
            raise InvalidParamsError(message=f"you sent {quoted}")
        if text != "stream":
            await event_queue.enqueue_event(
                new_text_message(f"you sent {quoted}", role=Role.ROLE_AGENT)
            )
            return
        task_id, context_id = context.task_id or "", context.context_id or ""
        await event_queue.enqueue_event(
            Task(
                id=task_id,
                context_id=context_id,
                status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
            )
        )
        updater = TaskUpdater(event_queue, task_id, context_id)
        for i in range(3):
            note = new_text_message(f"step {i}: {quoted}", context_id=context_id, task_id=task_id)
            await updater.update_status(TaskState.TASK_STATE_WORKING, note)
        await updater.complete(new_text_message(f"done: {quoted}", context_id=context_id))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, context.task_id or "", context.context_id or "").cancel()


class Escaping:
    """Answers ``escaped`` messages itself: the echo with every ``-`` as JSON's ``\\u002d``,
    the same JSON for a client, other bytes for a search of the token's own spelling."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data: Any = json.loads(body or b"null")
        parts = (((data or {}).get("params") or {}).get("message") or {}).get("parts") or []
        if parts and parts[0].get("text") == "escaped":
            quoted = f"you sent Bearer {self.token}".replace("-", "\\u002d")
            answer = {
                "jsonrpc": "2.0",
                "id": data.get("id"),
                "result": {
                    "message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "@"}]}
                },
            }
            text = json.dumps(answer).replace('"@"', f'"{quoted}"')
            await Response(text, media_type="application/json")(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class Guard:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if headers.get("authorization") != f"Bearer {self.token}":
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build(port: int, token: str) -> ASGIApp:
    url = f"http://127.0.0.1:{port}/rpc"
    card = AgentCard(
        name="echo",
        description=f"an agent whose credential is {token}",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="0.3"),
            AgentInterface(url=f"{url}/grpc", protocol_binding="GRPC", protocol_version="0.3"),
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
    )
    handler = DefaultRequestHandlerV2(
        agent_executor=Echo(), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(
        routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/rpc")]
    )
    app.add_route("/healthz", lambda request: JSONResponse({"ok": True}))
    return Guard(Escaping(app, token), token)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    args = p.parse_args()
    uvicorn.run(build(args.port, args.token), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

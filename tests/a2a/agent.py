"""Test agents built with the official ``a2a-sdk``, run as real processes on loopback.

    python -m tests.a2a.agent --port N --kind quick|worker [--token T]

``quick`` answers at once: a plain message echoes its text; ``task: ...`` makes a task that
completes at once; ``ask: ...`` makes a task that waits for input (each later message on the
task asks again, so a caller can loop on it). ``worker`` runs a long task: status updates and
artifact chunks every ``--step`` seconds until ``--steps`` are done or it is cancelled.
With ``--token`` the agent refuses calls without ``Authorization: Bearer <token>`` (the
gateway's credentials to the agent). ``--record FILE`` appends each request's headers as a
JSON line, so tests can see what the gateway sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from a2a.helpers.proto_helpers import get_message_text, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandlerV2
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Part,
    Role,
    SecurityScheme,
    Task,
    TaskState,
    TaskStatus,
)
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class Quick(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = get_message_text(context.message) if context.message else ""
        if text.startswith(("task:", "ask:")) or context.current_task is not None:
            task_id, context_id = context.task_id or "", context.context_id or ""
            if context.current_task is None:
                task = Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message] if context.message else [],
                )
                await event_queue.enqueue_event(task)
            updater = TaskUpdater(event_queue, task_id, context_id)
            reply = new_text_message(
                f"echo: {text}", context_id=context_id, task_id=task_id, role=Role.ROLE_AGENT
            )
            if text.startswith("task:"):
                await updater.add_artifact([Part(text=f"done: {text}")], name="result")
                await updater.complete(reply)
            else:
                await updater.requires_input(reply)
            return
        await event_queue.enqueue_event(
            new_text_message(f"echo: {text}", context_id=context.context_id, role=Role.ROLE_AGENT)
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()


class Worker(AgentExecutor):
    def __init__(self, steps: int, step: float) -> None:
        self.steps = steps
        self.step = step

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = context.task_id or "", context.context_id or ""
        if context.current_task is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message] if context.message else [],
                )
            )
        updater = TaskUpdater(event_queue, task_id, context_id)
        for i in range(self.steps):
            await updater.update_status(
                TaskState.TASK_STATE_WORKING,
                new_text_message(f"step {i}", context_id=context_id, task_id=task_id),
            )
            await updater.add_artifact(
                [Part(text=f"chunk {i};")],
                artifact_id="report",
                name="report",
                append=i > 0,
                last_chunk=i == self.steps - 1,
            )
            await asyncio.sleep(self.step)  # the agent's own pace, not a test's wait
        await updater.complete(new_text_message("finished", context_id=context_id))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()


def card(name: str, url: str, kind: str, token: str | None) -> AgentCard:
    c = AgentCard(
        name=name,
        description=f"a {kind} test agent",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id=kind, name=kind, description="test", tags=["test"])],
    )
    if token:
        c.security_schemes["agent_bearer"].CopyFrom(
            SecurityScheme(http_auth_security_scheme={"scheme": "bearer"})
        )
    return c


def legacy_card(name: str, url: str) -> dict[str, Any]:
    """The card of an A2A 0.3 agent, in 0.3's own shape."""
    return {
        "name": name,
        "description": "an A2A 0.3 test agent",
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "version": "1.0.0",
        "capabilities": {"streaming": True, "pushNotifications": False},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "quick", "name": "quick", "description": "test", "tags": ["test"]}],
        "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "x-k"}},
        "security": [{"k": []}],
    }


class Guard:
    """Refuses requests without the agent's token; records every request's headers; with
    ``oauth`` (``client:secret``) it is also its own OAuth 2.0 token endpoint (``/token``,
    client credentials) and takes only the tokens it issued."""

    def __init__(
        self, app: ASGIApp, token: str | None, record: str | None, oauth: str | None = None
    ) -> None:
        self.app = app
        self.token = token
        self.record = record
        self.oauth = oauth
        self.issued: set[str] = set()

    async def _token(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        form = dict(parse_qsl(body.decode()))
        client, _, secret = (self.oauth or "").partition(":")
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != client
            or form.get("client_secret") != secret
        ):
            await JSONResponse({"error": "invalid_client"}, status_code=401)(scope, receive, send)
            return
        token = f"oauth-token-{len(self.issued)}"
        self.issued.add(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        await JSONResponse(answer)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.record:
            line: dict[str, Any] = {"path": scope["path"], "headers": headers}
            with open(self.record, "a") as f:  # noqa: ASYNC230 - a test agent's own record
                f.write(json.dumps(line) + "\n")
        if self.oauth and scope["path"] == "/token":
            await self._token(scope, receive, send)
            return
        if self.oauth and scope["path"] != "/healthz":
            given = headers.get("authorization", "").removeprefix("Bearer ")
            if given not in self.issued:
                answer = JSONResponse({"error": "unauthorized"}, status_code=401)
                await answer(scope, receive, send)
                return
        if (
            self.token
            and scope["path"] != "/healthz"
            and headers.get("authorization") != f"Bearer {self.token}"
        ):
            await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build(args: argparse.Namespace) -> ASGIApp:
    url = f"http://127.0.0.1:{args.port}/rpc"
    agent_card = card(args.name or args.kind, url, args.kind, args.token)
    executor: AgentExecutor = Worker(args.steps, args.step) if args.kind == "worker" else Quick()
    # The worker also has an extended card (one more skill), for authenticated callers.
    extended = None
    if args.kind == "worker":
        agent_card.capabilities.extended_agent_card = True
        extended = AgentCard()
        extended.CopyFrom(agent_card)
        extended.skills.append(AgentSkill(id="secret", name="secret", description="extended"))
    handler = DefaultRequestHandlerV2(
        agent_executor=executor,
        task_store=InMemoryTaskStore(),
        agent_card=agent_card,
        push_config_store=InMemoryPushNotificationConfigStore(),
        extended_agent_card=extended,
    )
    if args.legacy:
        old = legacy_card(args.name or args.kind, url)
        routes = [
            Route("/.well-known/agent-card.json", lambda request: JSONResponse(old)),
            *create_jsonrpc_routes(handler, "/rpc", enable_v0_3_compat=True),
        ]
    else:
        routes = [
            *create_agent_card_routes(agent_card),
            *create_jsonrpc_routes(handler, "/rpc"),
        ]
    app = Starlette(routes=routes)
    app.add_route("/healthz", lambda request: JSONResponse({"ok": True}))
    return Guard(app, args.token, args.record, args.oauth)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--kind", choices=["quick", "worker"], default="quick")
    p.add_argument("--name", default=None)
    p.add_argument("--token", default=None)
    p.add_argument("--record", default=None)
    p.add_argument("--oauth", default=None, help="client:secret of its token endpoint")
    p.add_argument("--legacy", action="store_true", help="an A2A 0.3 card and methods")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--step", type=float, default=0.2)
    args = p.parse_args()
    uvicorn.run(build(args), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

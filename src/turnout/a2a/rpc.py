"""One JSON-RPC call through ``POST /a2a/{agent}``: read, governed, relayed, recorded.

The call's envelope is read once; access, rates, the task's message budget and any
push-notification URL are checked before the agent hears of it; the answer is relayed as the
agent gave it (JSON whole, SSE event by event); and whatever happened, the call is one
request-log row (its task id and bytes in and out included) and one ``a2a call`` log line,
with a row and an ``a2a task`` line per task state change seen on the way (bounded:
:mod:`turnout.a2a.states`).

With tracing on, the gateway's span of the call is the parent the agent is told of
(``traceparent``): a child of the caller's trace when it sent one, a new trace otherwise.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson

from turnout.a2a.card import rewrite
from turnout.a2a.echoes import mask
from turnout.a2a.events import Seen, read_response
from turnout.a2a.governance import admit, check_access, message_task, plan_for, push_urls
from turnout.a2a.jsonrpc import Envelope, NotReady, read_envelope, request_id_of
from turnout.a2a.owners import CONTEXT, LISTS, pinned
from turnout.a2a.registry import Agent
from turnout.a2a.relay import (
    check_answer,
    check_status,
    content_type,
    read_bounded,
    relay_stream,
    relayed_headers,
)
from turnout.a2a.states import StateRows
from turnout.api.io import ClientDisconnected, StreamAborted, read_body, send_bytes
from turnout.errors import BadRequest, GatewayError, OutboundRefused, as_gateway_error
from turnout.limits.plan import Ticket
from turnout.observability.logging import get_logger
from turnout.observability.tracecontext import CallerContext
from turnout.outbound import Origin
from turnout.outbound.display import scrub_urls
from turnout.types import Call, Receive, Scope, Send
from turnout.upstream.base import Egress, Timeouts

if TYPE_CHECKING:
    from turnout.a2a.owners import TaskOwners
    from turnout.a2a.service import A2AService

# Caller headers that reach the agent: the protocol's own. Never the caller's credentials
# (they are the gateway's keys) nor anything else. Trace context is added apart (trace_headers).
FORWARDED = (b"a2a-version", b"a2a-extensions", b"x-a2a-extensions", b"accept-language")
PREFIX = "/a2a"

log = get_logger("turnout.a2a")


async def serve_rpc(
    service: A2AService,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[bytes, bytes],
    name: str,
    rid: str,
) -> None:
    state = service.state
    call = Call(
        protocol="a2a",
        operation="other",
        model=f"a2a/{name}",
        body=b"",
        data={},
        stream=False,
        headers=headers,
        request_id=rid,
        started=time.perf_counter(),
        path=scope["path"],
        query=scope.get("query_string", b""),
        deployment=f"a2a/{name}",
    )
    state.request_log.inflight += 1
    ticket: Ticket | None = None
    env: Envelope | None = None
    rpc_id: Any = None
    body = b""
    trail = Trail(name, call)
    try:
        principal = await service.principal(scope, headers)
        if principal is not None:
            call.key_id, call.team = principal.id, principal.team
        agent = service.agent(name)
        server = state.runtime.config.server
        body = await read_body(
            receive, headers, server.max_body_bytes, state.bodies, server.max_held_body_bytes
        )
        trail.bytes_in = len(body)
        rpc_id = request_id_of(body)
        env = read_envelope(body)
        call.operation, call.stream = env.label, env.streams
        trail.asked = _task_asked(env)
        check_access(principal, name, agent.config)
        trail.owner = pinned(principal)
        await service.owners.check(name, env, trail.owner)
        await service.owners.check_context(name, env, trail.owner)
        plan = plan_for(principal, name, agent.config)
        if plan is not None and state.auth is not None:
            ticket = await admit(state.auth.limiter, plan)
        await _govern(service, env, agent)
        call.attempts = 1
        await _forward(service, scope, receive, send, agent, env, body, call, trail)
    except ClientDisconnected:
        call.status, call.error = 499, "client_disconnected"
    except GatewayError as exc:
        call.status, call.error = exc.status, type(exc).__name__
        await service.error(send, exc, rpc_id, rid)
    except asyncio.CancelledError:
        if call.status == 0:  # the caller left before the answer began (the server's cancel)
            call.status, call.error = 499, "client_disconnected"
        raise
    except StreamAborted:
        raise
    except Exception as exc:  # a bug: the caller still gets JSON-RPC, the log the trace
        log.exception("a2a call failed", request_id=rid)
        err = as_gateway_error(exc)
        call.status, call.error = err.status, type(err).__name__
        await service.error(send, err, rpc_id, rid)
    finally:
        state.bodies.release(body)
        if ticket is not None and state.auth is not None:
            state.auth.limiter.finish(ticket)
        trail.close()
        state.request_log.record(call, time.perf_counter() - call.started)
    await _opened(service, env, name, trail.task_id)


def _task_asked(env: Envelope) -> str | None:
    """The task a request names: the one a message continues, or the one a task method
    asks about (``taskId``, else ``id``), for the row of a call the agent refused."""
    if env.kind == "message":
        return message_task(env.params)
    if env.kind in ("task", "push"):
        for field in ("taskId", "id"):
            value = env.params.get(field)
            if isinstance(value, str) and 0 < len(value) <= 256:
                return value
    return None


async def _opened(service: A2AService, env: Envelope | None, name: str, task: str | None) -> None:
    """A message that opened a task counts as its first against the task's budget."""
    if env is None or env.kind != "message" or task is None:
        return
    agent = service.registry.get(name)
    if agent is None or agent.config.max_messages_per_task is None:
        return
    if message_task(env.params) is None:
        await service.budget.opened(name, task)


async def _govern(service: A2AService, env: Envelope, agent: Agent) -> None:
    """Push-notification URLs first, then the task's budget: a refused call spends none."""
    policy = service.policy
    if env.kind in ("push", "message"):
        for url in push_urls(env.params, inside=env.kind == "push"):
            if not isinstance(url, str):
                raise BadRequest("Invalid params: a push-notification url must be a string")
            # A caller's callback URL: the agent will call it, so it gets the caller's
            # rules (public addresses only, unless the operator allows more).
            dest = policy.check_url(url, Origin.CALLER)
            try:
                await policy.addresses(dest, Origin.CALLER)
            except OutboundRefused:
                raise
            except GatewayError as exc:
                msg = f"Invalid params: push-notification url: {scrub_urls(exc.message)}"
                raise BadRequest(msg) from None
    cfg = agent.config
    if env.kind == "message" and cfg.max_messages_per_task is not None:
        task = message_task(env.params)
        if task is not None:
            await service.budget.spend(agent.name, task, cfg.max_messages_per_task)


def trace_headers(service: A2AService, call: Call) -> list[tuple[str, str]]:
    """Trace context for the agent: the gateway's own span as its parent while tracing is on
    (its ids fixed now, the span built later from the request log's row); the caller's
    context passed through while it is off. Either way only a valid ``traceparent`` and a
    valid, bounded ``tracestate`` are passed on (:mod:`turnout.observability.tracecontext`)."""
    obs = service.state.observability
    tracing = obs.tracing if obs is not None else None
    out: list[tuple[str, str]] = []
    if tracing is not None:
        parent, continued = tracing.outgoing(call)
        out.append(("traceparent", parent))
        if continued:  # the caller's checked tracestate goes with its trace
            out += [h for h in tracing.caller.relayed(call.headers) if h[0] == "tracestate"]
        return out
    return CallerContext().relayed(call.headers)


async def _forward(
    service: A2AService,
    scope: Scope,
    receive: Receive,
    send: Send,
    agent: Agent,
    env: Envelope,
    body: bytes,
    call: Call,
    trail: Trail,
) -> None:
    client = service.state.client
    if client is None:
        raise NotReady("The gateway is starting; retry shortly.", retry_after=1)
    trail.rows = StateRows(
        agent.name, call, service.states, service.writer, agent.config.max_state_rows
    )
    trail.owners = service.owners
    await agent.ensure_card(service.policy)
    headers = call.headers
    out: list[tuple[str, str]] = [
        ("content-type", "application/json"),
        ("accept", "text/event-stream" if env.streams else "application/json"),
        ("x-request-id", call.request_id),
    ]
    for name in FORWARDED:
        value = headers.get(name)
        if value is not None:
            out.append((name.decode(), value.decode("latin-1")))
    out.extend(trace_headers(service, call))
    out.extend(await agent.auth_headers(service.policy))
    t = agent.config.timeouts
    resp = await client.request(
        "POST",
        agent.rpc_url,
        out,
        body,
        Timeouts(t.connect, t.read, t.total),
        Egress(origin=agent.rpc_origin.value),
    )
    limit = agent.config.max_response_bytes
    rid = call.request_id
    if resp.status == 200 and b"text/event-stream" in content_type(resp):
        call.status = 200
        headers_out = [*relayed_headers(resp, stream=True), (b"x-request-id", rid.encode())]
        await relay_stream(
            send, receive, call, resp, headers_out, env.id, limit, trail.seen, agent.secrets()
        )
        return
    check_status(resp, agent.name)
    answer = mask(await read_bounded(resp, limit, agent.name), agent.secrets())
    data = check_answer(resp.status, answer, agent.name)
    seen, failed = read_response(data)
    call.status = resp.status  # before the state's row, which repeats it
    trail.seen(seen, len(answer))
    if failed:
        call.error = "agent_error"
    if env.method in LISTS and trail.owner is not None and "result" in data:
        data["result"] = await service.owners.only_own(agent.name, data["result"], trail.owner)
        answer = orjson.dumps(data)
    if env.kind == "card" and isinstance(data.get("result"), dict):
        url = f"{service.base_url(scope, headers)}{PREFIX}/{agent.name}"
        data["result"] = rewrite(data["result"], url, service.secured())
        answer = orjson.dumps(data)
    call.status = resp.status
    call.bytes_out = len(answer)
    await send_bytes(
        send, resp.status, [*relayed_headers(resp), (b"x-request-id", rid.encode())], answer
    )


class Trail:
    """What one call leaves behind: a row and a log line per task state change (``rows``,
    once the agent is known), a line when it ends, and the task id and byte counts on its
    request-log row."""

    __slots__ = (
        "asked", "bytes_in", "call", "name", "owner", "owners", "rows", "state", "task_id"
    )  # fmt: skip

    def __init__(self, name: str, call: Call) -> None:
        self.name = name
        self.call = call
        self.task_id: str | None = None  # the task the answer named
        self.asked: str | None = None  # the task the request named (params.message.taskId)
        self.state: str | None = None
        self.bytes_in = 0
        self.rows: StateRows | None = None
        self.owner: str | None = None  # the key the tasks seen are pinned to (None: none)
        self.owners: TaskOwners | None = None

    def seen(self, seen: Seen, size: int) -> None:
        """An answer or stream event of ``size`` bytes, as read."""
        if seen.task_id is not None and self.task_id is None:
            self.task_id = seen.task_id
        if self.owner is not None and self.owners is not None:
            if seen.task_id is not None:
                self.owners.claim(self.name, seen.task_id, self.owner)
            if seen.context_id is not None:
                self.owners.claim(self.name, seen.context_id, self.owner, CONTEXT)
        if seen.state is None:
            return
        self.state = seen.state
        task = seen.task_id or self.task_id
        if task is not None and self.rows is not None:
            self.rows.seen(task, seen.state, size)

    def close(self) -> None:
        call = self.call
        rows = self.rows
        if rows is not None:
            rows.close()
        call.task_id = self.task_id or self.asked
        # What was relayed to the caller so far (a stream counts event by event, so a cut
        # stream still shows what got through); nothing when the agent never answered.
        call.bytes_in, call.bytes_out = self.bytes_in, call.bytes_out or 0
        log.info(
            "a2a call",
            agent=self.name,
            method=call.operation,
            task_id=call.task_id,
            state=self.state,
            status=call.status,
            error=call.error,
            key_id=call.key_id,
            team=call.team,
            latency_ms=round((time.perf_counter() - call.started) * 1000, 3),
            bytes_in=self.bytes_in,
            bytes_out=call.bytes_out,
            states_dropped=rows.dropped if rows is not None else 0,
            request_id=call.request_id,
        )

"""The A2A gateway's routes, under ``/a2a``:

    GET  /a2a                                        the agents the caller's key may call
    GET  /a2a/{agent}/.well-known/agent-card.json    its card, pointing at the gateway
                                                     (also agent.json, the 0.3 name)
    POST /a2a/{agent}                                JSON-RPC, relayed to the agent

Every route takes a gateway key while authentication is on. A call is read once (its
envelope only), governed (access, rates, the per-task message budget, push-notification URLs
through the outbound policy), relayed, and recorded: one request-log row per call (protocol
``a2a``, model ``a2a/{agent}``) and one ``a2a`` log line per message and task state change.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

import orjson

from turnout.a2a.card import rewrite
from turnout.a2a.config import NAME
from turnout.a2a.events import Seen, read_response
from turnout.a2a.governance import (
    TaskBudget,
    admit,
    check_access,
    may_call,
    message_task,
    plan_for,
    push_urls,
)
from turnout.a2a.jsonrpc import Envelope, NotReady, error_body, read_envelope, request_id_of
from turnout.a2a.registry import Agent, Registry
from turnout.a2a.relay import (
    check_answer,
    content_type,
    read_bounded,
    relay_stream,
    relayed_headers,
)
from turnout.api.io import ClientDisconnected, StreamAborted, read_body, request_id, send_bytes
from turnout.auth.principal import Principal
from turnout.errors import (
    BadRequest,
    GatewayError,
    NotFound,
    OutboundRefused,
    as_gateway_error,
)
from turnout.limits.plan import Ticket
from turnout.limits.redis import RedisLimiter
from turnout.observability.logging import get_logger
from turnout.outbound import Origin, OutboundPolicy
from turnout.types import Call, Headers, Receive, Scope, Send
from turnout.upstream.base import Egress, Timeouts

if TYPE_CHECKING:
    from turnout.state import GatewayState

PREFIX = "/a2a"
CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
JSON = (b"content-type", b"application/json")
# Caller headers that reach the agent: the protocol's own and trace context. Never the
# caller's credentials (they are the gateway's keys) nor anything else.
FORWARDED = (
    b"a2a-version",
    b"a2a-extensions",
    b"x-a2a-extensions",
    b"traceparent",
    b"tracestate",
    b"accept-language",
)
_HOST = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

log = get_logger("turnout.a2a")


class A2AService:
    """Holds the registry and the per-task budget; serves every ``/a2a`` route."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.registry = Registry()
        self.registry.load(dict(state.runtime.config.agents))
        # The per-task budget counts in Redis when the limits do (shared by replicas).
        limiter = state.auth.limiter if state.auth is not None else None
        redis = limiter.client if isinstance(limiter, RedisLimiter) else None
        prefix = limiter.prefix if isinstance(limiter, RedisLimiter) else "turnout:"
        self.budget = TaskBudget(redis=redis, prefix=prefix)
        self._policy: OutboundPolicy | None = None

    @staticmethod
    def claims(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    @property
    def policy(self) -> OutboundPolicy:
        """The gateway's one outbound policy (the upstream client's), once it exists."""
        policy = getattr(self.state.client, "policy", None)
        if isinstance(policy, OutboundPolicy):
            return policy
        if self._policy is None:
            self._policy = OutboundPolicy.from_config(self.state.runtime.config.outbound)
        return self._policy

    # -- routing -----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[bytes, bytes] = dict(scope["headers"])
        rid = request_id(headers)
        path: str = scope["path"]
        method: str = scope["method"]
        rest = path[len(PREFIX) :].strip("/")
        name, _, tail = rest.partition("/")
        try:
            if not rest:
                if method != "GET":
                    raise NotFound(f"Unknown route: {method} {path}")
                await self._discover(scope, headers, rid, send)
                return
            if NAME.fullmatch(name) is None:
                raise NotFound(f"Unknown agent: {name[:64]!r}")
            if method == "GET" and "/" + tail in CARD_PATHS:
                await self._card(scope, headers, name, rid, send)
                return
            if method == "POST" and not tail:
                await self._rpc(scope, receive, send, headers, name, rid)
                return
            raise NotFound(f"Unknown route: {method} {path}")
        except GatewayError as exc:
            await self._error(send, exc, None, rid)

    async def _error(self, send: Send, err: GatewayError, rpc_id: Any, rid: str) -> None:
        headers: Headers = [JSON, (b"x-request-id", rid.encode()), *err.headers()]
        if err.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send_bytes(send, err.status, headers, error_body(err, rpc_id))

    # -- who is calling ------------------------------------------------------------------------
    def _principal(self, scope: Scope, headers: dict[bytes, bytes]) -> Principal | None:
        auth = self.state.auth
        if auth is None or not auth.active:
            return None
        return auth.step.identify(headers, scope.get("query_string", b""))

    def _agent(self, name: str) -> Agent:
        agent = self.registry.get(name)
        if agent is None:
            raise NotFound(f"Unknown agent: {name!r}")
        return agent

    def _secured(self) -> bool:
        auth = self.state.auth
        return auth is not None and auth.active

    @staticmethod
    def base_url(scope: Scope, headers: dict[bytes, bytes]) -> str:
        """The gateway as this caller reached it: ``X-Forwarded-Proto`` and
        ``X-Forwarded-Host`` when a proxy in front says so (TLS ended there), else the
        connection's scheme and the Host header; each only when well-formed. The URL goes
        only into the answer to this caller, so a spoofed header misleads nobody else."""
        scheme = scope.get("scheme", "http")
        proto = headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().lower()
        if proto in (b"http", b"https"):
            scheme = proto.decode()
        host = b""
        for candidate in (headers.get(b"x-forwarded-host", b""), headers.get(b"host", b"")):
            candidate = candidate.split(b",")[0].strip()
            if candidate and _HOST.fullmatch(candidate) is not None:
                host = candidate
                break
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}".encode()
        return f"{scheme}://{host.decode('ascii')}"

    # -- GET routes ------------------------------------------------------------------------------
    async def _card(
        self, scope: Scope, headers: dict[bytes, bytes], name: str, rid: str, send: Send
    ) -> None:
        principal = self._principal(scope, headers)
        agent = self._agent(name)
        check_access(principal, name, agent.config)
        card = await agent.ensure_card(self.policy)
        url = f"{self.base_url(scope, headers)}{PREFIX}/{name}"
        body = orjson.dumps(rewrite(card, url, self._secured()))
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], body)

    async def _discover(
        self, scope: Scope, headers: dict[bytes, bytes], rid: str, send: Send
    ) -> None:
        principal = self._principal(scope, headers)
        base = self.base_url(scope, headers)
        agents = [a for a in self.registry.agents.values() if may_call(principal, a.name, a.config)]
        cards = await asyncio.gather(
            *(a.ensure_card(self.policy) for a in agents), return_exceptions=True
        )
        secured = self._secured()
        out = []
        for agent, card in zip(agents, cards, strict=True):
            url = f"{base}{PREFIX}/{agent.name}"
            entry: dict[str, Any] = {"name": agent.name, "url": url}
            if isinstance(card, dict):
                entry["description"] = agent.config.description or card.get("description")
                entry["card"] = rewrite(card, url, secured)
            else:
                entry["description"] = agent.config.description
                entry["card"] = None
                err = as_gateway_error(card) if isinstance(card, Exception) else None
                entry["error"] = err.message if err is not None else "card unavailable"
            out.append(entry)
        body = orjson.dumps({"agents": sorted(out, key=lambda e: e["name"])})
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], body)

    # -- POST /a2a/{agent} -------------------------------------------------------------------
    async def _rpc(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        name: str,
        rid: str,
    ) -> None:
        state = self.state
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
        trail = _Trail(self, name, call)
        try:
            principal = self._principal(scope, headers)
            if principal is not None:
                call.key_id, call.team = principal.id, principal.team
            agent = self._agent(name)
            body = await read_body(receive, headers, state.runtime.config.server.max_body_bytes)
            trail.bytes_in = len(body)
            rpc_id = request_id_of(body)
            env = read_envelope(body)
            call.operation, call.stream = env.label, env.streams
            check_access(principal, name, agent.config)
            plan = plan_for(principal, name, agent.config)
            if plan is not None and state.auth is not None:
                ticket = await admit(state.auth.limiter, plan)
            await self._govern(env, agent)
            call.attempts = 1
            await self._forward(scope, receive, send, headers, agent, env, body, call, trail)
        except ClientDisconnected:
            call.status, call.error = 499, "client_disconnected"
        except GatewayError as exc:
            call.status, call.error = exc.status, type(exc).__name__
            await self._error(send, exc, rpc_id, rid)
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
            await self._error(send, err, rpc_id, rid)
        finally:
            if ticket is not None and state.auth is not None:
                state.auth.limiter.finish(ticket)
            trail.close()
            state.request_log.record(call, time.perf_counter() - call.started)
        await self._opened(env, name, trail.task_id)

    async def _opened(self, env: Envelope | None, name: str, task_id: str | None) -> None:
        """A message that opened a task counts as its first against the task's budget."""
        if env is None or env.kind != "message" or task_id is None:
            return
        agent = self.registry.get(name)
        if agent is None or agent.config.max_messages_per_task is None:
            return
        if message_task(env.params) is None:
            await self.budget.opened(name, task_id)

    async def _govern(self, env: Envelope, agent: Agent) -> None:
        """Push-notification URLs first, then the task's budget: a refused call spends none."""
        if env.kind in ("push", "message"):
            for url in push_urls(env.params, inside=env.kind == "push"):
                if not isinstance(url, str):
                    raise BadRequest("Invalid params: a push-notification url must be a string")
                # A caller's callback URL: the agent will call it, so it gets the caller's
                # rules (public addresses only, unless the operator allows more).
                dest = self.policy.check_url(url, Origin.CALLER)
                try:
                    await self.policy.addresses(dest, Origin.CALLER)
                except OutboundRefused:
                    raise
                except GatewayError as exc:
                    msg = f"Invalid params: push-notification url: {exc.message}"
                    raise BadRequest(msg) from None
        cfg = agent.config
        if env.kind == "message" and cfg.max_messages_per_task is not None:
            task = message_task(env.params)
            if task is not None:
                await self.budget.spend(agent.name, task, cfg.max_messages_per_task)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        agent: Agent,
        env: Envelope,
        body: bytes,
        call: Call,
        trail: _Trail,
    ) -> None:
        client = self.state.client
        if client is None:
            raise NotReady("The gateway is starting; retry shortly.", retry_after=1)
        await agent.ensure_card(self.policy)
        out: list[tuple[str, str]] = [
            ("content-type", "application/json"),
            ("accept", "text/event-stream" if env.streams else "application/json"),
            ("x-request-id", call.request_id),
        ]
        for name in FORWARDED:
            value = headers.get(name)
            if value is not None:
                out.append((name.decode(), value.decode("latin-1")))
        out.extend(await agent.auth_headers(self.policy))
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
            headers_out = [*relayed_headers(resp), (b"x-request-id", rid.encode())]
            trail.bytes_out = await relay_stream(
                send, receive, call, resp, headers_out, env.id, limit, trail.seen
            )
            return
        answer = await read_bounded(resp, limit, agent.name)
        data = check_answer(resp.status, answer, agent.name)
        seen, failed = read_response(data)
        trail.seen(seen)
        if failed:
            call.error = "agent_error"
        if env.kind == "card" and isinstance(data.get("result"), dict):
            url = f"{self.base_url(scope, headers)}{PREFIX}/{agent.name}"
            data["result"] = rewrite(data["result"], url, self._secured())
            answer = orjson.dumps(data)
        call.status = resp.status
        trail.bytes_out = len(answer)
        await send_bytes(
            send, resp.status, [*relayed_headers(resp), (b"x-request-id", rid.encode())], answer
        )


class _Trail:
    """The log lines of one call: one per task state change, and one when it ends."""

    __slots__ = ("bytes_in", "bytes_out", "call", "name", "service", "state", "task_id")

    def __init__(self, service: A2AService, name: str, call: Call) -> None:
        self.service = service
        self.name = name
        self.call = call
        self.task_id: str | None = None
        self.state: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    def seen(self, seen: Seen) -> None:
        if seen.task_id is not None and self.task_id is None:
            self.task_id = seen.task_id
        if seen.state is not None and seen.state != self.state:
            self.state = seen.state
            log.info(
                "a2a task",
                agent=self.name,
                task_id=self.task_id,
                state=seen.state,
                key_id=self.call.key_id,
                team=self.call.team,
                request_id=self.call.request_id,
            )

    def close(self) -> None:
        call = self.call
        log.info(
            "a2a call",
            agent=self.name,
            method=call.operation,
            task_id=self.task_id,
            state=self.state,
            status=call.status,
            error=call.error,
            key_id=call.key_id,
            team=call.team,
            latency_ms=round((time.perf_counter() - call.started) * 1000, 3),
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            request_id=call.request_id,
        )

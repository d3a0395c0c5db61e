"""The A2A gateway's routes, under ``/a2a``:

    GET  /a2a                                        the agents the caller's key may call
    GET  /a2a/{agent}/.well-known/agent-card.json    its card, pointing at the gateway
                                                     (also agent.json, the 0.3 name)
    POST /a2a/{agent}                                JSON-RPC, relayed to the agent

Every route takes a gateway key while authentication is on. A call is read once (its
envelope only), governed (access, rates, the per-task message budget, push-notification URLs
through the outbound policy), relayed, and recorded: one request-log row per call (protocol
``a2a``, model ``a2a/{agent}``), one per task state change (:mod:`turnout.a2a.states`), and
one ``a2a`` log line per message and task state change.
This module routes and serves the cards; one JSON-RPC call is :mod:`turnout.a2a.rpc`.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import orjson

from turnout.a2a.card import rewrite
from turnout.a2a.config import NAME
from turnout.a2a.governance import TaskBudget, check_access, may_call
from turnout.a2a.jsonrpc import error_body
from turnout.a2a.managed import SECTION
from turnout.a2a.owners import TaskOwners
from turnout.a2a.registry import Agent, Registry
from turnout.a2a.rpc import PREFIX, serve_rpc
from turnout.a2a.states import TaskStates
from turnout.api.io import request_id, send_bytes
from turnout.auth.principal import Principal
from turnout.errors import GatewayError, NotFound, as_gateway_error
from turnout.limits.kind import is_redis
from turnout.outbound import OutboundPolicy
from turnout.outbound.display import scrub_urls
from turnout.storage.writer import LogWriter
from turnout.types import Headers, Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.state import GatewayState

CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
JSON = (b"content-type", b"application/json")
_HOST = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class A2AService:
    """Holds the registry and the per-task budget; serves every ``/a2a`` route."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.registry = Registry()
        self.reload()
        # The per-task budget counts in Redis when the limits do (shared by replicas).
        limiter = state.auth.limiter if state.auth is not None else None
        redis = limiter.client if is_redis(limiter) else None
        prefix = limiter.prefix if is_redis(limiter) else "turnout:"
        self.budget = TaskBudget(redis=redis, prefix=prefix)
        self.owners = TaskOwners(redis=redis, prefix=prefix)  # tasks pinned to their key
        self.states = TaskStates()  # the last state seen of each task (state-change rows)
        self._policy: OutboundPolicy | None = None

    def reload(self) -> None:
        """Serve the agents of the serving config: the file's and those stored through the
        admin API (``state.managed`` says which); unchanged agents keep their cards."""
        managed = self.state.managed
        stored = frozenset(managed.sources.database.get(SECTION, ())) if managed else frozenset()
        self.registry.load(dict(self.state.runtime.config.agents), stored)

    @property
    def writer(self) -> LogWriter | None:
        """The request log's writer, where a task's state-change rows go (None: no storage)."""
        obs = self.state.observability
        storage = obs.storage if obs is not None else None
        return storage.writer if storage is not None else None

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
                await serve_rpc(self, scope, receive, send, headers, name, rid)
                return
            raise NotFound(f"Unknown route: {method} {path}")
        except GatewayError as exc:
            await self.error(send, exc, None, rid)

    async def error(self, send: Send, err: GatewayError, rpc_id: Any, rid: str) -> None:
        headers: Headers = [JSON, (b"x-request-id", rid.encode()), *err.headers()]
        if err.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send_bytes(send, err.status, headers, error_body(err, rpc_id))

    # -- who is calling ------------------------------------------------------------------------
    async def principal(self, scope: Scope, headers: dict[bytes, bytes]) -> Principal | None:
        auth = self.state.auth
        if auth is None or not auth.active:
            return None
        return await auth.identify(headers, scope.get("query_string", b""))

    def agent(self, name: str) -> Agent:
        agent = self.registry.get(name)
        if agent is None:
            raise NotFound(f"Unknown agent: {name!r}")
        return agent

    def secured(self) -> bool:
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
        principal = await self.principal(scope, headers)
        agent = self.agent(name)
        check_access(principal, name, agent.config)
        card = await agent.ensure_card(self.policy)
        url = f"{self.base_url(scope, headers)}{PREFIX}/{name}"
        body = orjson.dumps(rewrite(card, url, self.secured()))
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], body)

    async def _discover(
        self, scope: Scope, headers: dict[bytes, bytes], rid: str, send: Send
    ) -> None:
        principal = await self.principal(scope, headers)
        base = self.base_url(scope, headers)
        agents = [a for a in self.registry.agents.values() if may_call(principal, a.name, a.config)]
        cards = await asyncio.gather(
            *(a.ensure_card(self.policy) for a in agents), return_exceptions=True
        )
        secured = self.secured()
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
                entry["error"] = scrub_urls(err.message) if err is not None else "card unavailable"
            out.append(entry)
        body = orjson.dumps({"agents": sorted(out, key=lambda e: e["name"])})
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], body)

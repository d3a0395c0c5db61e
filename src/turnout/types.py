"""Shared type aliases and the two objects every layer passes along: :class:`Call` and
:class:`Reply`. Kept in one module so that api/, pipeline/, routing/ and providers/ agree on
them without importing each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from turnout.copies import copier

if TYPE_CHECKING:
    from turnout.auth.principal import Principal
    from turnout.ir import IRRequest
    from turnout.limits.plan import Ticket
    from turnout.usage.base import StreamObserver

# One upstream attempt as the provider wrapper notes it (turnout.observability.attempts):
# (deployment label, key id, started, ended, status, error body or how it raised)
Note = tuple[str | None, str, float, float, int, Any]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class Call:
    """One client request as the gateway understood it, plus what happened to it.

    ``body`` is the raw request as received and ``data`` its parsed form; a same-protocol call
    forwards ``body`` untouched unless something had to change (the upstream model name).
    """

    protocol: str  # a registered wire protocol's name (turnout.protocols.registry)
    operation: str  # "chat", "embeddings", ...
    model: str
    body: bytes
    data: dict[str, Any]
    stream: bool
    headers: dict[bytes, bytes]
    request_id: str
    started: float
    path: str = ""
    query: bytes = b""
    # Filled in as the call proceeds; read by the request log.
    deployment: str | None = None
    attempts: int = 0
    status: int = 0
    ttft: float | None = None
    error: str | None = None
    usage: Usage | None = None
    cache: str | None = None  # "hit" | "miss" | "refresh" | "bypass" (cache step); hits cost 0
    # What the pipeline steps hand each other, typed (each is set by one step, read by others).
    principal: Principal | None = None  # the authenticated caller (auth step)
    identified: Principal | None = None  # whose key it is, read before the body (endpoint)
    key_id: str | None = None  # the caller's gateway key id, "master" for the master key (auth)
    team: str | None = None  # the caller's team (auth)
    ticket: Ticket | None = None  # admitted, settled by the log drain (limits step)
    ir: IRRequest | None = None  # built once however many translated attempts (translate)
    fallback: str | None = None  # the fallback model that answered (router)
    sticky_key: str | None = None  # the client's pin in the sticky strategy (strategy)
    notes: list[Note] | None = None  # every upstream attempt (observability.attempts)
    observer: StreamObserver | None = None  # a stream's usage observer (API layer)
    relayed: int = 0  # bytes of a stream written to the client (API layer; usage.base.cut_short)
    relayed_all: bool = False  # every byte of the stream was written, its end checked (API layer)
    # The reply was written by the gateway from the IR (a translated answer) and is whole and
    # error-free, its usage in ``usage``: the cache stores it without decoding it (translate).
    encoded: bool = False
    translated: bool = False  # the answering attempt went through the IR (translate)
    # A follow-up that must reach the deployment label and key fingerprint that hold its
    # state (conversations step), and the key fingerprint that answered (router).
    pin: tuple[str, str] | None = None
    answered_key: str | None = None
    client_body: bytes | None = None  # the body as the client sent it, when the gateway
    #                                   changed what goes upstream (usage: asked for usage)
    route: dict[str, Any] | None = None  # a learned router's decision, for the log (strategy)
    route_score: bytes | None = None  # its x-turnout-route-score header value (strategy)
    route_embedding: object | None = None  # the prompt's embedding, fetched first (strategy)
    # What plugins decided about this call, for the request log and metrics (plugins/): each
    # (plugin, rule, action), e.g. ("pii", "email", "redact"); None when nothing was decided.
    guardrails: list[tuple[str, str, str]] | None = None
    # Calls without tokens (A2A agents, MCP tools) for the request log: the agent's task id,
    # the request's and the answer's bytes as relayed. None for model calls.
    task_id: str | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    # The ids (trace, span) of this call's span, fixed before the span is built when the
    # gateway names it as the parent of a request it sends (observability.tracing.outgoing).
    span: tuple[int, int] | None = None


# A copy of a call with some fields changed (turnout.copies): what dataclasses.replace makes.
derived: Callable[..., Call] = copier(Call)


@dataclass(slots=True)
class Reply:
    """What goes back to the client: a whole body, or a stream of already-encoded chunks."""

    status: int
    headers: Headers
    body: bytes = b""
    chunks: AsyncIterator[bytes] | None = None


Handler = Callable[[Call], Awaitable[Reply]]

"""Shared type aliases and the two objects every layer passes along: :class:`Call` and
:class:`Reply`. Kept in one module so that api/, pipeline/, routing/ and providers/ agree on
them without importing each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from turnout.errors import Protocol

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

    protocol: Protocol
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
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Reply:
    """What goes back to the client: a whole body, or a stream of already-encoded chunks."""

    status: int
    headers: Headers
    body: bytes = b""
    chunks: AsyncIterator[bytes] | None = None


Handler = Callable[[Call], Awaitable[Reply]]

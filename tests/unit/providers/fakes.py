"""A scripted upstream client: records each request, answers from a queue, and counts how far
a stream has been read (so a test can prove translation is incremental)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.providers.base import HTTPProvider
from turnout.providers.registry import provider_class
from turnout.types import Call
from turnout.upstream.base import DEFAULT_EGRESS, Egress, Timeouts


@dataclass
class Sent:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    pulled: int = 0  # stream chunks handed out so far
    closed: bool = False

    async def read(self) -> bytes:
        return self.body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        # The port's two ways of reading one body: a whole body is also its only chunk.
        for chunk in self.chunks or ([self.body] if self.body else []):
            self.pulled += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


class FakeClient:
    def __init__(self, *responses: FakeResponse) -> None:
        self.responses = list(responses)
        self.sent: list[Sent] = []

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: Timeouts,
        egress: Egress = DEFAULT_EGRESS,
    ) -> FakeResponse:
        self.sent.append(Sent(method, url, headers, body))
        return self.responses.pop(0)

    async def close(self) -> None:
        return None


BASE_URLS = {
    "openai-compatible": "http://up.test/v1",
    "anthropic": "http://up.test",
    "gemini": "http://up.test",
}


def provider(kind: str, client: FakeClient, forward: tuple[str, ...] = ("x-mock-*",)) -> Any:
    spec = ProviderSpec(
        name=kind,
        type=kind,
        base_url=BASE_URLS[kind],
        api_keys=("sk-up",),
        headers=(),
        forward_headers=forward,
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=10.0,
    )
    instance: HTTPProvider = provider_class(kind)(spec, client)
    return instance


def deployment(model: str = "up-model") -> DeploymentSpec:
    return DeploymentSpec("p", model, 0, 1.0)


def call(
    protocol: str,
    data: dict[str, Any],
    *,
    operation: str | None = None,
    model: str = "pub",
    stream: bool = False,
    headers: dict[bytes, bytes] | None = None,
    path: str = "",
    query: bytes = b"",
) -> Call:
    default_ops = {"openai": "chat", "anthropic": "messages", "gemini": "generateContent"}
    if not path and protocol == "gemini":
        action = "streamGenerateContent" if stream else "generateContent"
        path = f"/v1beta/models/{model}:{operation or action}"
        query = query or (b"alt=sse" if stream else b"")
    return Call(
        protocol=protocol,
        operation=operation or default_ops[protocol],
        model=model,
        body=orjson.dumps(data),
        data=data,
        stream=stream,
        headers=headers or {},
        request_id="rid-1",
        started=0.0,
        path=path,
        query=query,
    )


def sse(*objs: dict[str, Any], events: bool = False, done: bool = False) -> list[bytes]:
    """One SSE frame per chunk, as a network read might deliver them."""
    out = []
    for obj in objs:
        head = b"event: " + obj["type"].encode() + b"\n" if events else b""
        out.append(head + b"data: " + orjson.dumps(obj) + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return out

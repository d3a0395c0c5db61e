"""In-process fakes for router tests: a scripted provider and a controllable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from turnout.config import compile_config
from turnout.config.compile import DeploymentSpec, ProviderSpec, Runtime
from turnout.config.load import parse_raw
from turnout.errors import GatewayError
from turnout.types import Call, Reply

Script = Callable[[DeploymentSpec, str, Call], Any]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def runtime(raw: dict[str, Any]) -> Runtime:
    return compile_config(parse_raw(raw, {}, "test"))


def call(model: str = "m", stream: bool = False, **data: Any) -> Call:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **data}
    return Call(
        protocol="openai",
        operation="chat",
        model=model,
        body=orjson.dumps(body),
        data=body,
        stream=stream,
        headers={},
        request_id="r",
        started=0.0,
    )


def ok(body: bytes = b'{"ok": true}') -> Reply:
    return Reply(200, [(b"content-type", b"application/json")], body)


def error(status: int, body: dict[str, Any] | None = None, **headers: str) -> Reply:
    hdrs = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    payload = orjson.dumps(body or {"error": {"message": "x", "code": None}})
    return Reply(status, hdrs, payload)


def stream(*chunks: bytes, fail_after: GatewayError | None = None) -> Reply:
    async def gen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            await asyncio.sleep(0)
            yield chunk
        if fail_after is not None:
            raise fail_after

    return Reply(200, [(b"content-type", b"text/event-stream")], chunks=gen())


class FakeProvider:
    """Answers with ``script(deployment, key, call)``: a Reply, an exception to raise, or an
    awaitable of either. Every attempt is logged as (provider, upstream model, key)."""

    def __init__(self, name: str, script: Script, log: list[tuple[str, str, str]]) -> None:
        self.spec = ProviderSpec(name, "mock", "mock://", ("",), (), (), 1.0, 1.0, 1.0)
        self.name = name
        self.script = script
        self.log = log

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        self.log.append((self.name, deployment.upstream_model(call.model), key))
        result = self.script(deployment, key, call)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, Reply)
        return result

    async def close(self) -> None:
        return None


def providers(
    rt: Runtime, scripts: dict[str, Script], log: list[tuple[str, str, str]]
) -> dict[str, Any]:
    return {
        name: FakeProvider(name, scripts.get(name, lambda d, k, c: ok()), log)
        for name in rt.providers
    }

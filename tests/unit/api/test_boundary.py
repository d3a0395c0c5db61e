"""The last error boundary: whatever escapes the pipeline reaches the client in its protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import orjson
import pytest

from turnout.api.endpoint import Inbound, serve
from turnout.api.io import StreamAborted
from turnout.config.compile import compile_config
from turnout.config.schema import TurnoutConfig
from turnout.errors import InternalError, RateLimited, as_gateway_error
from turnout.observability.logging import RequestLog
from turnout.protocols.openai.routes import CHAT
from turnout.protocols.registry import PROTOCOLS
from turnout.state import GatewayState
from turnout.types import Call, Reply

pytestmark = pytest.mark.asyncio(loop_scope="function")


def state(handler: Any) -> GatewayState:
    s = GatewayState(compile_config(TurnoutConfig()), RequestLog(enabled=False))
    s.handler = handler
    return s


async def run(s: GatewayState, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    sent: list[dict[str, Any]] = []
    received = [{"type": "http.request", "body": orjson.dumps(body)}]

    async def receive() -> dict[str, Any]:
        if received:
            return received.pop(0)
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "path": "/v1/chat/completions", "headers": [], "query_string": b""}
    errors: list[Any] = []
    try:
        await serve(s, Inbound(PROTOCOLS["openai"], "chat", CHAT.locate), scope, receive, send)
    except StreamAborted as exc:
        errors.append(exc)
    return sent, errors


async def test_mapping_keeps_gateway_errors_and_hides_everything_else() -> None:
    err = RateLimited("later")
    assert as_gateway_error(err) is err
    mapped = as_gateway_error(KeyError("secret detail"))
    assert isinstance(mapped, InternalError) and "secret" not in mapped.message


async def test_an_unexpected_exception_is_a_500_in_the_clients_shape() -> None:
    async def broken(call: Call) -> Reply:
        raise KeyError("internal detail")

    sent, _ = await run(state(broken), {"model": "m", "messages": []})
    assert sent[0]["status"] == 500
    body = orjson.loads(sent[1]["body"])
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "internal detail" not in sent[1]["body"].decode()


@pytest.mark.parametrize(
    "raised",
    [TypeError("'NoneType' object is not subscriptable"), TypeError("Recursion limit")],
)
async def test_a_type_error_of_the_gateways_own_is_a_logged_500(
    raised: TypeError, capsys: pytest.CaptureFixture[str]
) -> None:
    """orjson's encode error is ``TypeError`` itself: the boundary once caught it by that name
    and answered every ``TypeError`` with a 400 blaming the body's nesting, logging nothing."""

    async def broken(call: Call) -> Reply:
        raise raised

    sent, _ = await run(state(broken), {"model": "m", "messages": []})
    assert sent[0]["status"] == 500
    assert "nested too deeply" not in sent[1]["body"].decode()
    captured = capsys.readouterr()  # stdout by default; stderr once a CLI test chose it
    assert "request failed" in captured.out + captured.err


async def test_a_body_orjson_cannot_write_again_is_the_clients_400() -> None:
    async def reencoding(call: Call) -> Reply:
        deep: object = {}
        for _ in range(300):  # deeper than orjson writes (as a translation may nest it)
            deep = {"a": deep}
        return Reply(200, [], orjson.dumps(deep))

    sent, _ = await run(state(reencoding), {"model": "m", "messages": []})
    assert sent[0]["status"] == 400
    assert "nested too deeply" in orjson.loads(sent[1]["body"])["error"]["message"]


async def test_an_unexpected_exception_mid_stream_ends_with_an_error_frame() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'data: {"choices":[]}\n\n'
        raise ValueError("codec bug")

    async def streaming(call: Call) -> Reply:
        return Reply(200, [], chunks=chunks())

    sent, errors = await run(state(streaming), {"model": "m", "messages": [], "stream": True})
    assert len(errors) == 1  # the connection is dropped without a clean end
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    assert bodies[0] == b'data: {"choices":[]}\n\n'
    frame = orjson.loads(bodies[1].removeprefix(b"data: "))
    assert frame["error"]["type"] == "server_error"
    assert all(m.get("more_body") for m in sent if m["type"] == "http.response.body")

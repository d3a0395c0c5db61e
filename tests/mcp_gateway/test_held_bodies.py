"""What many MCP request bodies at once can make the gateway hold.

The model routes bound the request bodies over 64 KiB held at once
(``server.max_held_body_bytes``); before (2026-12-08) the MCP gateway's bodies were read by
the SDK, bounded one by one (``server.max_body_bytes``) and never counted, so fifty stalled
10 MB ``tools/call`` bodies were held whatever the bound. Now the gateway reads them into the
same count: one that would pass the bound is a retryable 503 with a JSON-RPC error that the
SDK's client raises as an ``MCPError``, before the rest of it is read. A wrong key is refused
before any of it is read.

Here the bound is 1 MB so that the official client reaches it with arguments of 1.2 MB.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import ADMIN, MASTER, gateway_config, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support import rawhttp
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until_async

pytestmark = pytest.mark.timeout(120)
ROOM = 1_000_000


@pytest.fixture(scope="module")
def held(mock: Proc, alpha: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = gateway_config(
        mock,
        {"alpha": {"url": f"{alpha.url}/mcp"}},
        outbound={"allow": ["localhost"]},
        # A stalled body must outlive the test's waits: only the client ends it here.
        server={"max_held_body_bytes": ROOM, "body_timeout": 600},
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("mcp-held"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    wait_states(proc, {"alpha": "up"})
    yield proc
    proc.stop()


def _call(text: str) -> bytes:
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": "alpha__echo", "arguments": {"text": text}},
        }
    )


def _head(length: int, key: str = MASTER) -> bytes:
    """An MCP POST's head promising ``length`` bytes of body."""
    return rawhttp.announce(
        "/mcp",
        length,
        f"Authorization: Bearer {key}",
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
    )


def test_a_wrong_key_is_refused_before_its_body_is_read(held: Proc) -> None:
    head = _head(5_000_000, "sk-wrong")
    with rawhttp.connect(held.port) as sock:
        sock.sendall(head)  # and not one byte of the body
        reply = rawhttp.read_reply(sock)
    assert reply is not None and reply.status == 401, reply
    error: Any = reply.json()
    assert error["error"]["code"] == -32001, error


async def test_a_body_past_the_bound_is_a_retryable_jsonrpc_error(held: Proc) -> None:
    async with connect(held) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("alpha__echo", {"text": "a" * 1_200_000})
        assert "max_held_body_bytes" in refused.value.message
        # Nothing was kept of the refused one: bodies that fit pass, one after another, each
        # given back (three of 400 kB would pass the bound if any were not).
        for _ in range(3):
            answer = await client.call_tool("alpha__echo", {"text": "b" * 400_000})
            assert texts(answer) == ["alpha:" + "b" * 400_000]


async def test_the_refusal_is_a_503_with_retry_after(held: Proc) -> None:
    body = _call("a" * 1_200_000)
    head = _head(len(body))
    with rawhttp.connect(held.port) as sock:
        sock.sendall(head)  # refused on its Content-Length: none of the body is needed
        reply = rawhttp.read_reply(sock)
    assert reply is not None and reply.status == 503, reply
    assert reply.headers["retry-after"] == "1"
    error: Any = reply.json()
    assert error["jsonrpc"] == "2.0" and error["error"]["code"] == -32603, error


async def test_bodies_held_by_other_requests_count_until_they_end(held: Proc) -> None:
    body = _call("a" * 800_000)
    head = _head(len(body))
    async with connect(held) as client:

        async def refused() -> bool:
            try:
                await client.call_tool("alpha__echo", {"text": "c" * 400_000})
            except MCPError as exc:
                return "max_held_body_bytes" in exc.message
            return False

        async def served() -> bool:
            try:
                return bool(
                    (await client.call_tool("alpha__echo", {"text": "d" * 400_000})).content
                )
            except MCPError:
                return False

        stalled = rawhttp.connect(held.port)
        try:
            stalled.sendall(head + body[:-10])  # all but its last bytes: held, never finished
            try:
                await until_async(refused, limit=60)
            except AssertionError:  # say what became of the stalled request
                stalled.settimeout(2)
                raise AssertionError(
                    f"never refused; the stalled one got {stalled.recv(500)!r}"
                ) from None
            assert texts(await client.call_tool("alpha__echo", {"text": "small"}))
            # The admin API's MCP routes count into the same bound.
            async with httpx.AsyncClient(timeout=30) as http:
                added = await http.post(
                    held.url + "/admin/mcp/servers",
                    headers=ADMIN,
                    json={"name": "padded", "pad": "x" * 250_000},
                )
            assert added.status_code == 503, added.text
            assert "max_held_body_bytes" in added.json()["detail"]
        finally:
            stalled.shutdown(socket.SHUT_RDWR)
            stalled.close()
        await until_async(served, limit=60)  # given back when its client left

"""``tool_rpm`` shared by replicas: two gateway processes count one key's tool calls in the
machine's Redis (127.0.0.1:6379, under a key prefix of this test) through the gateway's
limiter, and admit exactly the limit between them. Fails (not skips) without Redis under CI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import MASTER, gateway_config, new_key, wait_for, wait_states
from tests.mcp_gateway.test_gateway import connect
from tests.support.procs import Proc, start_gateway
from tests.unit.cache.redis_support import drop_prefix, shared_redis

LIMIT = 10
CALLS = 30  # in all, over both replicas


@pytest.fixture
def pair(mock: Proc, alpha: Proc, tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    prefix = f"turnout-test:mcp-{uuid.uuid4().hex[:8]}:"
    config = gateway_config(
        mock,
        {"alpha": {"url": f"{alpha.url}/mcp"}},
        limits={"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix},
        storage={"url": str(tmp_path / "shared.db"), "flush_interval": 0.05},
    )
    env = {"TURNOUT_MASTER_KEY": MASTER}
    procs: list[Proc] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            procs.append(start_gateway(config, tmp_path / name, env=env, ready_within=90))
        for proc in procs:
            wait_states(proc, {"alpha": "up"})
        yield procs[0], procs[1]
    finally:
        for proc in procs:
            proc.stop()
        drop_prefix(prefix)


def _known(gw: Proc, key: str) -> bool:
    """The replica has loaded the key (a ping is not a tool call)."""
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    reply = httpx.post(gw.url + "/mcp", json=ping, headers={"authorization": f"Bearer {key}"})
    return reply.status_code != 401


def test_two_replicas_admit_exactly_the_keys_tool_rpm(pair: tuple[Proc, Proc]) -> None:
    key = new_key(pair[0], name="tools", metadata={"mcp": {"tool_rpm": LIMIT}})
    wait_for(lambda: _known(pair[1], key), what="the replica loading the key")

    async def run() -> list[list[bool]]:
        async with connect(pair[0], key=key) as a, connect(pair[1], key=key) as b:

            async def one(client: Client) -> bool:
                try:
                    await client.call_tool("alpha__echo", {"text": "x"})
                except MCPError as exc:
                    assert exc.code == -32029, exc.message
                    assert f"{LIMIT} per minute" in exc.message
                    return False
                return True

            # Both replicas serve a share by construction; the race decides only the rest.
            first = [await one(a), await one(b)]
            rest = await asyncio.gather(*(one((a, b)[i % 2]) for i in range(CALLS - 2)))
            return [first[:1] + list(rest[0::2]), first[1:] + list(rest[1::2])]

    on_a, on_b = asyncio.run(run())
    assert on_a[0] and on_b[0]
    assert sum(on_a) + sum(on_b) == LIMIT  # per-process counting would admit 2 * LIMIT
    assert len(on_a) + len(on_b) == CALLS

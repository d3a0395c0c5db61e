"""Real upstream MCP servers (the official SDK, tests/mcp_gateway/upstream.py) and gateways in front
of them, all processes on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import PYTHON, Proc, free_port, start_gateway

UPSTREAM = str(Path(__file__).with_name("upstream.py"))
MASTER = "mcp-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


def start_upstream(name: str, transport: str) -> Proc:
    port = free_port()
    ready = "/mcp" if transport == "streamable-http" else "/messages/"
    return Proc([PYTHON, UPSTREAM, name, transport, str(port)], port, ready)


def stdio_server(name: str, **extra: Any) -> dict[str, Any]:
    return {"transport": "stdio", "command": [PYTHON, UPSTREAM, name, "stdio"], **extra}


def gateway_config(mock: Proc, servers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "oa": {"type": "openai-compatible", "base_url": f"{mock.url}/v1", "api_keys": ["x"]}
        },
        "models": {"gpt-test": {"deployments": [{"provider": "oa", "model": "up"}]}},
        "logging": {"requests": False},
        "storage": {"flush_interval": 0.05},
        "mcp_servers": servers,
        **extra,
    }


def servers(gw: Proc) -> dict[str, dict[str, Any]]:
    reply = httpx.get(gw.url + "/admin/mcp/servers", headers=ADMIN, timeout=10)
    reply.raise_for_status()
    return {s["name"]: s for s in reply.json()["servers"]}


def wait_for(check: Callable[[], bool], within: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {within}s")


def wait_states(gw: Proc, want: dict[str, str], within: float = 30.0) -> None:
    seen: dict[str, Any] = {}

    def ok() -> bool:
        seen.update(servers(gw))
        return all(seen.get(n, {}).get("state") == s for n, s in want.items())

    try:
        wait_for(ok, within, f"servers {want}")
    except AssertionError as exc:
        have = {n: (s["state"], s["error"]) for n, s in seen.items()}
        raise AssertionError(f"{exc}; last seen {have}") from None


def new_key(gw: Proc, **body: Any) -> str:
    reply = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json=body, timeout=10)
    reply.raise_for_status()
    secret: str = reply.json()["key"]
    return secret


@pytest.fixture(scope="package")
def alpha() -> Iterator[Proc]:
    proc = start_upstream("alpha", "streamable-http")
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def gamma() -> Iterator[Proc]:
    proc = start_upstream("gamma", "sse")
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def gw(
    mock: Proc, alpha: Proc, gamma: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    """One gateway with a master key in front of three servers, one per transport, and one
    that is never there."""
    dead = free_port()
    config = gateway_config(
        mock,
        {
            "alpha": {"url": f"{alpha.url}/mcp", "timeouts": {"call": 5.0}},
            "beta": stdio_server("beta"),
            "gamma": {"transport": "sse", "url": f"{gamma.url}/sse"},
            "dead": {"url": f"http://127.0.0.1:{dead}/mcp", "timeouts": {"connect": 1.0}},
        },
        outbound={"allow": ["localhost"]},
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("mcp"), env={"TURNOUT_MASTER_KEY": MASTER}, ready_within=90
    )
    wait_states(proc, {"alpha": "up", "beta": "up", "gamma": "up", "dead": "down"})
    yield proc
    proc.stop()

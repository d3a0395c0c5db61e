"""Agents built with the official a2a-sdk and a gateway in front of them, all real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import PYTHON, Proc, free_port, mock_provider, start_gateway

MASTER = "a2a-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
AGENT_TOKEN = "agent-side-secret-token-42"
OAUTH_CLIENT, OAUTH_SECRET = "gateway-client", "oauth-client-secret-7"


def start_agent(kind: str, *flags: str) -> Proc:
    port = free_port()
    args = [PYTHON, "-m", "tests.a2a.agent", "--port", str(port), "--kind", kind, *flags]
    root = Path(__file__).resolve().parents[2]
    return Proc(args, port, "/healthz", cwd=root, env={"PYTHONPATH": str(root)}, ready_within=60)


@pytest.fixture(scope="session")
def quick_agent() -> Iterator[Proc]:
    proc = start_agent("quick")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def worker_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("a2a-record") / "worker.jsonl"


@pytest.fixture(scope="session")
def worker_agent(worker_record: Path) -> Iterator[Proc]:
    proc = start_agent(
        "worker",
        "--token",
        AGENT_TOKEN,
        "--record",
        str(worker_record),
        "--steps",
        "6",
        "--step",
        "0.3",
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def rogue_agent() -> Iterator[Proc]:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    args = [PYTHON, "-m", "tests.a2a.rogue_agent", "--port", str(port)]
    proc = Proc(args, port, "/", cwd=root, env={"PYTHONPATH": str(root)}, ready_within=60)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def legacy_agent() -> Iterator[Proc]:
    """An A2A 0.3 agent (0.3 card and methods) behind OAuth 2.0 client credentials."""
    proc = start_agent("quick", "--legacy", "--oauth", f"{OAUTH_CLIENT}:{OAUTH_SECRET}")
    yield proc
    proc.stop()


def gateway_config(mock: Proc, agents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "agents": agents,
        "outbound": {"allow": ["127.0.0.1/32"]},
        **extra,
    }


@pytest.fixture(scope="session")
def a2a_gateway(
    mock: Proc,
    quick_agent: Proc,
    worker_agent: Proc,
    rogue_agent: Proc,
    legacy_agent: Proc,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proc]:
    agents = {
        "quick": {"url": quick_agent.url, "max_messages_per_task": 3},
        "worker": {
            "url": worker_agent.url,
            "auth": {"type": "bearer", "token": AGENT_TOKEN},
            "description": "the long-running one",
        },
        "private": {"url": quick_agent.url, "keys": ["nobody"], "teams": ["research"]},
        "limited": {"url": quick_agent.url, "agent_rpm": 2},
        "rogue": {"url": rogue_agent.url, "timeouts": {"read": 2}},
        "legacy": {
            "url": legacy_agent.url,
            "auth": {
                "type": "oauth2",
                "token_url": f"{legacy_agent.url}/token",
                "client_id": OAUTH_CLIENT,
                "client_secret": OAUTH_SECRET,
            },
        },
        "down": {"url": f"http://127.0.0.1:{free_port()}", "timeouts": {"connect": 2}},
    }
    tmp = tmp_path_factory.mktemp("a2a-gw")
    proc = start_gateway(
        gateway_config(mock, agents, storage={"flush_interval": 0.05}),
        tmp,
        env={"TURNOUT_MASTER_KEY": MASTER},
        ready_within=60,
    )
    yield proc
    proc.stop()


def admin(gw: Proc, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, timeout=10, **kw)


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = admin(gw, "POST", "/admin/keys", json=body)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data["key"], data["id"]

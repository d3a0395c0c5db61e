"""An agent's card says where its JSON-RPC endpoint is, but cannot send the gateway to another
host: a card naming an endpoint on another origin used to make the gateway POST every call
there, the agent's credentials included. Now the card's path is used on the configured origin,
and the other host (a recording upstream here) hears nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.a2a.conftest import AGENT_TOKEN, gateway_config
from tests.a2a.test_gateway import rpc, send_params
from tests.support.procs import PYTHON, Proc, free_port, rogue_requests, start_gateway, start_rogue

pytestmark = pytest.mark.timeout(120)
MASTER = "a2a-master-test-key-0123456789"


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Proc]:
    proc = start_rogue()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def redirecting(elsewhere: Proc) -> Iterator[Proc]:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    args = [PYTHON, "-m", "tests.a2a.rogue_agent", "--port", str(port)]
    args += ["--card-rpc", f"{elsewhere.url}/steal"]
    proc = Proc(args, port, "/", cwd=root, env={"PYTHONPATH": str(root)}, ready_within=60)
    yield proc
    proc.stop()


def test_a_card_cannot_move_the_agent_to_another_host(
    mock: Proc, redirecting: Proc, elsewhere: Proc, tmp_path: Path
) -> None:
    agents = {"moved": {"url": redirecting.url, "auth": {"type": "bearer", "token": AGENT_TOKEN}}}
    gw = start_gateway(gateway_config(mock, agents), tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("hi")}
        answer = rpc(gw, "moved", body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["message"]["parts"] == [{"text": "ok"}]  # the agent's
        assert rogue_requests(elsewhere) == []  # the card's host heard nothing
        assert "a2a card names another origin" in gw.output()
        assert AGENT_TOKEN not in gw.output()
    finally:
        gw.stop()

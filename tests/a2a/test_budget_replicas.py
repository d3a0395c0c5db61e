"""The per-task message budget shared by two gateway processes through the machine's Redis
(``limits.backend: redis``): a loop that hops between replicas is stopped all the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.a2a.conftest import MASTER, gateway_config
from tests.support.procs import Proc, replica_pair
from tests.unit.cache.redis_support import shared_redis


@pytest.fixture(scope="module")
def replicas(
    mock: Proc, quick_agent: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, Proc]]:
    tmp: Path = tmp_path_factory.mktemp("a2a-replicas")
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    config = gateway_config(
        mock,
        {"quick": {"url": quick_agent.url, "max_messages_per_task": 3}},
        limits={"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix},
        storage={"url": "memory://"},
    )
    with replica_pair(config, tmp, {"TURNOUT_MASTER_KEY": MASTER}) as pair:
        yield pair


def send(gw: Proc, text: str, task_id: str | None = None) -> httpx.Response:
    message: dict[str, object] = {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    }
    if task_id:
        message["taskId"] = task_id
    return httpx.post(
        f"{gw.url}/a2a/quick",
        json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}},
        headers={"authorization": f"Bearer {MASTER}", "a2a-version": "1.0"},
        timeout=30,
    )


def test_a_loop_across_replicas_is_stopped(replicas: tuple[Proc, Proc]) -> None:
    a, b = replicas
    first = send(a, "ask: hop")
    assert first.status_code == 200, first.text
    task = first.json()["result"]["task"]["id"]
    assert [send(gw, "again", task).status_code for gw in (b, a, b)] == [200, 200, 429]

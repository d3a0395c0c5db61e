"""Three gateway replicas and standalone keepers on one Redis and one PostgreSQL.

The upstream is the key-checking stub of ``test_routing_keys``: a test revokes a key there
while everything runs, and watches the keeper's probe reach every replica. A deployment on a
closed port opens its breaker on one replica, and the others must see it open. A deployment
with ``rpm: 30`` admits exactly 30 of a burst spread over the three; a sticky client stays on
its deployment whichever replica it reaches. Two keepers run; only the lease holder probes,
and killing it hands the lease to the other.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.contract.pg import asyncpg_url, fresh_database
from tests.integration.test_routing_keys import GOOD, KeyStub
from tests.support.procs import PYTHON, Proc, free_port, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import shared_redis

SPARE = "sk-key-spare-0009"  # revoked during the test
LEASE = 3.0


@dataclass
class Cluster:
    replicas: list[Proc]
    keepers: list[subprocess.Popen[bytes]]
    stub: KeyStub
    config: Path
    env: dict[str, str]

    def health(self, gw: Proc) -> dict[str, Any]:
        report: dict[str, Any] = httpx.get(gw.url + "/admin/health", timeout=5).json()
        return report

    def key_state(self, gw: Proc, provider: str, fingerprint_of: str) -> str | None:
        from turnout.health.targets import fingerprint

        fp = fingerprint(fingerprint_of)
        for key in self.health(gw)["keys"]:
            if key["provider"] == provider and key["id"].endswith("#" + fp):
                return str(key["state"])
        return None


def _config(stub: KeyStub, prefix: str) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    return {
        "providers": {
            "pool": {"type": "openai-compatible", "base_url": stub.url, "api_keys": [SPARE, GOOD]},
            "limited": {"type": "openai-compatible", "base_url": stub.url, "api_keys": [GOOD]},
            "dead": {
                "type": "openai-compatible",
                "base_url": dead,
                "api_keys": ["sk-dead-01"],
                "probe": False,
            },
        },
        "models": {
            "pooled": {"deployments": [{"provider": "pool", "model": "stub-1"}]},
            "limited": {"deployments": [{"provider": "limited", "model": "stub-3", "rpm": 30}]},
            "sticky": {
                "strategy": "sticky",
                "deployments": [
                    {"provider": "limited", "model": "stub-a"},
                    {"provider": "limited", "model": "stub-b"},
                ],
            },
            "breakme": {
                "deployments": [
                    {"provider": "dead", "model": "gone", "priority": 0},
                    {"provider": "pool", "model": "stub-1", "priority": 1},
                ]
            },
        },
        "routing": {"breaker": {"consecutive_failures": 1, "cooldown": 60}},
        "health": {"interval": 0.3, "jitter": 0, "timeout": 2, "lease": LEASE},
        "shared": {
            "backend": "redis",
            "redis_url": shared_redis(),
            "key_prefix": prefix,
            "sync_interval": 0.1,
        },
        "logging": {"requests": False},
    }


def _keeper(config: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``turnout worker``, its output in ``cwd/keeper-<n>.log``."""
    log = cwd / f"keeper-{uuid.uuid4().hex[:6]}.log"
    proc = subprocess.Popen(
        [PYTHON, "-m", "turnout.cli.main", "worker", "-c", str(config)],
        env=env,
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _started(keeper: subprocess.Popen[bytes]) -> bool:
    log: Path = keeper.log  # type: ignore[attr-defined]
    return "health keeper started" in log.read_text(errors="replace")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import os

    stub = KeyStub()
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    tmp = tmp_path_factory.mktemp("replicas")
    config = _config(stub, prefix)
    path = tmp / "turnout.yaml"
    path.write_text(yaml.safe_dump(config))
    with fresh_database("syshared") as dsn:
        env = {**os.environ, "TURNOUT_DATABASE_URL": asyncpg_url(dsn)}
        replicas: list[Proc] = []
        keepers: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(3):
                (tmp / f"r{i}").mkdir()
                replicas.append(start_gateway(config, tmp / f"r{i}", env=env, ready_within=90))
            keepers.append(_keeper(path, env, tmp))
            yield Cluster(replicas, keepers, stub, path, env)
        finally:
            for k in keepers:
                if k.poll() is None:
                    k.send_signal(signal.SIGTERM)
                    try:
                        k.wait(10)
                    except subprocess.TimeoutExpired:
                        k.kill()
            for r in replicas:
                r.stop()
            stub.close()


def _holder(cluster: Cluster) -> str | None:
    lease = cluster.health(cluster.replicas[0])["keeper"]["lease"]
    holder = lease.get("holder")
    return str(holder) if holder else None


def test_a_key_revoked_upstream_is_skipped_by_every_replica_after_the_keepers_probe(
    cluster: Cluster,
) -> None:
    until(lambda: _holder(cluster) is not None, 60, step=0.1)  # the keeper is up and probing
    assert ":worker:" in (_holder(cluster) or "")

    def probed(gw: Proc) -> bool:
        keys = cluster.health(gw)["keys"]
        return all(k["probed_at"] for k in keys if k["provider"] == "pool")

    # the keeper's probes show on every replica
    until(lambda: all(probed(gw) for gw in cluster.replicas), 10, step=0.1)
    cluster.stub.fate[SPARE] = "revoked"
    probes_before = cluster.stub.calls[(SPARE, True)]
    until(lambda: cluster.stub.calls[(SPARE, True)] > probes_before, 10)  # the keeper probed
    # Only the keeper probed (the stub counts its probes): the others learn it from the shared
    # state, at their next read (every 0.1 s here); the time is printed, a deadline is not a
    # measure on a shared machine.
    took = until(
        lambda: all(cluster.key_state(gw, "pool", SPARE) == "invalid" for gw in cluster.replicas),
        15.0,
    )
    print(f"revoked key skipped by all three replicas {took:.3f} s after the probe")
    before = cluster.stub.requests(SPARE)
    for gw in cluster.replicas * 3:
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "pooled", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert r.status_code == 200
        assert r.headers["x-turnout-attempts"] == "1"  # the revoked key was not tried
    assert cluster.stub.requests(SPARE) == before


def test_a_breaker_opened_on_one_replica_is_open_on_all(cluster: Cluster) -> None:
    first = cluster.replicas[0]
    r = httpx.post(
        first.url + "/v1/chat/completions",
        json={"model": "breakme", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert r.status_code == 200 and r.headers["x-turnout-deployment"] == "pool/stub-1"

    def ejected(gw: Proc) -> bool:
        deps = {d["id"]: d for d in cluster.health(gw)["deployments"]}
        return bool(deps["dead/gone"]["state"] == "ejected")

    took = until(lambda: all(ejected(gw) for gw in cluster.replicas), 15.0)
    print(f"breaker open on all three replicas {took:.3f} s after the failure")
    for gw in cluster.replicas[1:]:  # the others no longer try the dead deployment
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "breakme", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert r.status_code == 200 and r.headers["x-turnout-attempts"] == "1"


def test_a_deployment_rpm_admits_exactly_its_limit_across_the_replicas(cluster: Cluster) -> None:
    import asyncio

    async def burst() -> list[int]:
        clients = [httpx.AsyncClient(base_url=gw.url, timeout=30) for gw in cluster.replicas]
        body = {"model": "limited", "messages": [{"role": "user", "content": "hi"}]}
        try:
            replies = await asyncio.gather(
                *(clients[i % 3].post("/v1/chat/completions", json=body) for i in range(45))
            )
        finally:
            for c in clients:
                await c.aclose()
        return [r.status_code for r in replies]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 30, statuses
    assert statuses.count(429) == 15


def test_a_sticky_client_stays_on_one_deployment_whichever_replica_it_hits(
    cluster: Cluster,
) -> None:
    body = {"model": "sticky", "messages": [{"role": "user", "content": "hi"}]}
    session = {"x-session-id": f"agent-{uuid.uuid4().hex[:8]}"}

    def ask(gw: Proc) -> str:
        r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=session, timeout=10)
        assert r.status_code == 200
        return r.headers["x-turnout-deployment"]

    def pins(gw: Proc) -> int:
        return int(cluster.health(gw)["router"]["sticky_pins"]["sticky"])

    before = [pins(gw) for gw in cluster.replicas]
    first = ask(cluster.replicas[0])  # equal weights: either deployment may be chosen
    # The pin reaches the other replicas (an agent's next turn comes later than that).
    replicas = list(zip(cluster.replicas, before, strict=True))
    until(lambda: all(pins(gw) > n for gw, n in replicas), 5, step=0.05)
    answered = [ask(gw) for gw in cluster.replicas[1:] * 3]
    assert answered == [first] * 6  # by chance alone: 1 in 64


def test_killing_the_keeper_hands_the_lease_to_another(cluster: Cluster, tmp_path: Path) -> None:
    until(lambda: _holder(cluster) is not None, 60, step=0.1)
    first = _holder(cluster)
    assert first is not None and f":{cluster.keepers[0].pid}:" in first
    second = _keeper(cluster.config, cluster.env, tmp_path)
    cluster.keepers.append(second)
    # The second keeper is up (it tries for the lease) but does not take it.
    until(lambda: _started(second), 90, step=0.1)
    assert _holder(cluster) == first
    cluster.keepers[0].kill()  # no clean stop: the lease has to expire
    killed = time.monotonic()
    until(lambda: f":{second.pid}:" in (_holder(cluster) or ""), LEASE + 60, step=0.05)
    took = time.monotonic() - killed
    print(f"lease handed over {took:.3f} s after the holder was killed (lease {LEASE} s)")

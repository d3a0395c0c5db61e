"""Limits and cache on every Redis deployment the URL syntax names, each started by the test
on free ports (never the shared Redis): a 3-master Redis Cluster (exact limits across two
gateway replicas, a node restart survived, the cache shared), Sentinel, TLS with a private CA
and client certificates, an ACL user with a password, and database selection."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.integration.test_auth import MASTER, admin, new_key
from tests.integration.test_limits import aclient, limits_config, ok, one
from tests.integration.test_limits_redis import _known as known
from tests.support.procs import Proc, start_gateway
from tests.support.redis_procs import Cluster, RedisServer, SentinelSetup, cli, tls_server
from tests.support.wait import until

ENV = {"TURNOUT_MASTER_KEY": MASTER}


def burst(gw: Proc | tuple[Proc, Proc], key: str, n: int, **kw: Any) -> list[Any]:
    """``n`` concurrent calls (alternating between replicas when given two)."""
    gws = gw if isinstance(gw, tuple) else (gw,)

    async def go() -> list[Any]:
        clients = [aclient(g.url, key) for g in gws]
        try:
            return list(await asyncio.gather(*(one(clients[i % len(gws)], **kw) for i in range(n))))
        finally:
            for c in clients:
                await c.close()

    return asyncio.run(go())


def redis_config(mock: Proc, tmp: Path, url: str, **extra: Any) -> dict[str, Any]:
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    return limits_config(
        mock,
        # a generous timeout: these tests are about topologies, and the machine is shared
        limits={
            "backend": "redis",
            "redis_url": url,
            "key_prefix": prefix,
            "redis_timeout": 2,
            **extra,
        },
        storage={"url": str(tmp / "shared.db")},
    )


def replicas(config: dict[str, Any], tmp: Path, n: int = 2) -> list[Proc]:
    procs: list[Proc] = []
    try:
        for i in range(n):
            (tmp / f"r{i}").mkdir(exist_ok=True)
            procs.append(start_gateway(config, tmp / f"r{i}", env=ENV))
    except Exception:
        for p in procs:
            p.stop()
        raise
    return procs


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()


def test_cluster_two_replicas_enforce_one_limit_exactly(
    mock: Proc, cluster: Cluster, tmp_path: Path
) -> None:
    a, b = replicas(redis_config(mock, tmp_path, cluster.url), tmp_path)
    try:
        key = new_key(a, rpm=30)[0]
        until(lambda: known(b, key), 2.0)
        results = burst((a, b), key, 60)
        assert ok(results) == 30, a.output()[:6000]
        refused = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, openai.RateLimitError) for r in refused)
        # A team limit and its keys' own limits in one script: one hash slot (the team's).
        team = f"t{uuid.uuid4().hex[:6]}"
        assert admin(a, "POST", "/admin/teams", json={"name": team, "rpm": 20}).status_code == 201
        first, second = (new_key(a, team=team, rpm=15)[0] for _ in range(2))
        until(lambda: known(b, first) and known(b, second), 2.0)
        assert ok(burst((a, b), first, 20)) == 15
        assert ok(burst((a, b), second, 20)) == 5  # the team's 20 are spent
        parallel = new_key(b, max_parallel=3)[0]
        assert ok(burst((a, b), parallel, 12, delay_ms=400)) == 3
        assert ok(burst((a, b), parallel, 2)) == 2
    finally:
        a.stop()
        b.stop()


def test_a_cluster_node_restart_is_survived(mock: Proc, cluster: Cluster, tmp_path: Path) -> None:
    """Every node restarted in turn (its counters are gone: nothing is persisted; its slots
    come back with it). Under ``deny`` a call is answered only from the cluster, so a 200
    after the restarts proves the gateway is back on it, and the limit is exact again."""
    config = redis_config(mock, tmp_path, cluster.url, on_redis_error="deny")
    (gw,) = replicas(config, tmp_path, 1)
    try:
        key = new_key(gw, rpm=1000)[0]
        assert ok(burst(gw, key, 10)) == 10
        for i in range(len(cluster.nodes)):
            cluster.restart(i)
        until(lambda: ok(burst(gw, key, 1)) == 1, 30.0)
        fresh = new_key(gw, rpm=5)[0]
        until(lambda: known(gw, fresh), 2.0)
        assert ok(burst(gw, fresh, 10)) == 5
        out = gw.output()
        if "limits redis unavailable" in out:
            assert "limits redis reachable again" in out
    finally:
        gw.stop()


def test_cache_on_the_cluster_is_shared_by_replicas(
    mock: Proc, cluster: Cluster, tmp_path: Path
) -> None:
    config = {
        "providers": {
            "mock": {
                "type": "openai-compatible",
                "base_url": f"{mock.url}/v1",
                "api_keys": ["sk-test"],
            }
        },
        "models": {
            "cached": {"cache": True, "deployments": [{"provider": "mock", "model": "gpt-test"}]}
        },
        "cache": {
            "backend": "redis",
            "redis_url": cluster.url,
            "namespace": "shared",
            "key_prefix": f"turnout-test:{uuid.uuid4().hex[:8]}:",
            "redis_timeout": 2,
        },
        "storage": {"enabled": False},
    }
    a, b = replicas(config, tmp_path)
    try:
        body: Any = {"model": "cached", "messages": [{"role": "user", "content": "cluster cache"}]}
        first = openai.OpenAI(base_url=a.url + "/v1", api_key=MASTER).chat.completions
        r1 = first.with_raw_response.create(**body)
        assert r1.headers["x-turnout-cache"] == "miss"
        second = openai.OpenAI(base_url=b.url + "/v1", api_key=MASTER).chat.completions
        r2 = second.with_raw_response.create(**body)

        def hit() -> bool:
            return bool(second.with_raw_response.create(**body).headers["x-turnout-cache"] == "hit")

        assert r2.headers["x-turnout-cache"] in ("hit", "miss")  # the store is asynchronous
        until(hit, 5.0)
    finally:
        a.stop()
        b.stop()


def test_limits_through_sentinel(mock: Proc, tmp_path: Path) -> None:
    setup = SentinelSetup(tmp_path / "sentinel")
    try:
        config = redis_config(mock, tmp_path, setup.url, on_redis_error="deny")
        (gw,) = replicas(config, tmp_path, 1)
        try:
            key = new_key(gw, rpm=7)[0]
            until(lambda: ok(burst(gw, key, 1)) == 1, 10.0)
            assert ok(burst(gw, key, 12)) == 6
            assert cli(setup.master.port, "dbsize") not in ("", "0")  # counted on the master
        finally:
            gw.stop()
    finally:
        setup.stop()


def test_limits_over_tls_with_a_private_ca_and_a_client_certificate(
    mock: Proc, tmp_path: Path
) -> None:
    with tls_server(tmp_path) as (server, ca):
        client = ca.client()
        url = (
            f"rediss://localhost:{server.port}/0?ca_file={ca.cert}"
            f"&cert_file={client.cert}&key_file={client.key}"
        )
        (gw,) = replicas(redis_config(mock, tmp_path, url, on_redis_error="deny"), tmp_path, 1)
        try:
            key = new_key(gw, rpm=4)[0]
            until(lambda: ok(burst(gw, key, 1)) == 1, 10.0)  # connected (deny: 503 until then)
            assert ok(burst(gw, key, 6)) == 3  # deny: every answer came from Redis over TLS
            assert cli(server.port, "dbsize", tls=ca) not in ("", "0")
        finally:
            gw.stop()
        # Without the client certificate the server refuses the handshake: deny answers 503.
        bare = f"rediss://localhost:{server.port}/0?ca_file={ca.cert}"
        (gw,) = replicas(redis_config(mock, tmp_path, bare, on_redis_error="deny"), tmp_path, 1)
        try:
            key = new_key(gw, rpm=4)[0]
            results = burst(gw, key, 2)
            assert ok(results) == 0
            assert all(getattr(r, "status_code", None) == 503 for r in results)
        finally:
            gw.stop()


def test_acl_user_and_database_selection(mock: Proc, tmp_path: Path) -> None:
    server = RedisServer(
        tmp_path / "acl",
        None,
        "--user",
        "default",
        "off",
        "--user",
        "gateway",
        "on",
        ">s3cret/pw",
        "~*",
        "&*",
        "+@all",
    )
    try:
        url = f"redis://gateway:s3cret%2Fpw@127.0.0.1:{server.port}/5"
        (gw,) = replicas(redis_config(mock, tmp_path, url, on_redis_error="deny"), tmp_path, 1)
        try:
            key = new_key(gw, rpm=3)[0]
            until(lambda: ok(burst(gw, key, 1)) == 1, 10.0)
            assert ok(burst(gw, key, 5)) == 2
            assert cli(server.port, "-n", "5", "dbsize", user="gateway:s3cret/pw") != "0"
            assert cli(server.port, "-n", "0", "dbsize", user="gateway:s3cret/pw") == "0"
        finally:
            gw.stop()
        wrong = f"redis://gateway:nope@127.0.0.1:{server.port}/5"
        (gw,) = replicas(redis_config(mock, tmp_path, wrong, on_redis_error="deny"), tmp_path, 1)
        try:
            key = new_key(gw, rpm=3)[0]
            assert ok(burst(gw, key, 2)) == 0
            assert "nope" not in gw.output()  # the password never reaches a log line
        finally:
            gw.stop()
    finally:
        server.stop()


def test_config_refuses_bad_redis_urls(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    bad = {
        "limits": {"backend": "redis", "redis_url": "redis://h:1/0?tls_verify=no"},
        "cache": {"backend": "redis", "redis_url": "redis+cluster://h:1/3"},
    }
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(bad))
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "check", "-c", str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0, time.monotonic() - started
    text = out.stdout + out.stderr
    # The option's name is not quoted: in a URL whose password holds "?" it is part of the
    # password (docs/security.md); the message lists the known options instead.
    assert "limits.redis_url: unknown query option(s); the known ones:" in text
    assert "tls_verify" not in text
    assert "cache.redis_url: Redis Cluster has only database 0" in text

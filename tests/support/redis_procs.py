"""Private Redis deployments for tests, on free loopback ports in a temporary directory:
a single server (optionally TLS and ACL users), a 3-master Redis Cluster, and a master watched
by a Sentinel. The shared Redis on 6379 is never touched.

Each server runs ``redis-server`` with nothing persisted but the cluster's own node file, so a
node restarted in place rejoins its cluster with its slots.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.certs import TestCA
from tests.support.lineproc import LineProc
from tests.support.procs import free_port

REDIS = shutil.which("redis-server")


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, below 55536."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 55535)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def need_redis() -> str:
    """The redis-server binary; tests fail without it under CI, skip elsewhere."""
    import os

    if REDIS is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI needs it for the Redis tests)")
        pytest.skip("redis-server is not installed")
    return REDIS


def cli(port: int, *args: str, tls: TestCA | None = None, user: str | None = None) -> str:
    cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
    if tls is not None:
        client = tls.client("redis-cli")
        cmd += ["--tls", "--cacert", str(tls.cert), "--cert", str(client.cert)]
        cmd += ["--key", str(client.key)]
    if user is not None:
        name, _, pw = user.partition(":")
        cmd += ["--user", name, "--pass", pw, "--no-auth-warning"]
    out = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None, *args: str) -> None:
        self.binary = need_redis()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.args = args
        self.proc: LineProc | None = None
        self.start()

    def start(self) -> None:
        cmd = [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--protected-mode",
            "no",
            *self.args,
        ]
        self.proc = LineProc(cmd, "Ready to accept connections")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class Cluster:
    """Three masters, no replicas, all 16384 slots assigned."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        flags = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        flags += ["--cluster-node-timeout", "2000"]
        self.nodes = [
            RedisServer(directory / f"node{i}", cluster_port(), *flags) for i in range(masters)
        ]
        addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
        create = ["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0"]
        out = subprocess.run([*create, "--cluster-yes"], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"cluster create failed:\n{out.stdout}\n{out.stderr}")
        self.wait_ok()

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [cli(n.port, "cluster", "info") for n in self.nodes]
            if all("cluster_state:ok" in s for s in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def restart(self, index: int) -> None:
        node = self.nodes[index]
        node.stop()
        node.start()
        self.wait_ok()

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


class SentinelSetup:
    """A master and one sentinel monitoring it as ``service`` (quorum 1)."""

    def __init__(self, directory: Path, service: str = "turnout-master") -> None:
        self.service = service
        self.master = RedisServer(directory / "master")
        self.port = free_port()
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {directory}\nprotected-mode no\n"
            f"sentinel monitor {service} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {service} 2000\n"
        )
        self.proc = LineProc([need_redis(), str(conf), "--sentinel"], "+monitor master", timeout=30)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}"

    def stop(self) -> None:
        self.proc.stop()
        self.master.stop()


@contextmanager
def tls_server(directory: Path, *extra: str) -> Iterator[tuple[RedisServer, TestCA]]:
    """A TLS-only Redis that requires client certificates from the test CA."""
    ca = TestCA(directory / "ca")
    leaf = ca.server("localhost", "127.0.0.1")
    port = free_port()
    server = RedisServer(
        directory / "tls",
        port,
        "--port",
        "0",
        "--tls-port",
        str(port),
        "--tls-cert-file",
        str(leaf.cert),
        "--tls-key-file",
        str(leaf.key),
        "--tls-ca-cert-file",
        str(ca.cert),
        "--tls-auth-clients",
        "yes",
        *extra,
    )
    try:
        yield server, ca
    finally:
        server.stop()

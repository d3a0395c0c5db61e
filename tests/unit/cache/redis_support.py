"""The machine's Redis for cache tests, and private redis-server processes for outage tests.

With ``CI`` set, an unreachable Redis fails the test instead of skipping it: CI must not go
green by silently not testing the Redis backend.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

SHARED_URL = os.environ.get("TURNOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def shared_redis() -> str:
    """The URL of the machine's Redis, or skip (fail under CI) when it is not running."""
    if not _reachable("127.0.0.1", int(SHARED_URL.rsplit(":", 1)[1].split("/")[0])):
        message = f"Redis is not reachable at {SHARED_URL}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: Redis tests must run)")
        pytest.skip(message)
    return SHARED_URL


def drop_prefix(prefix: str) -> None:
    """Delete every key under ``prefix`` on the shared Redis: what a test's gateways wrote
    there under their own ``key_prefix``."""
    import redis

    client = redis.Redis.from_url(shared_redis())
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if names:
        client.delete(*names)
    client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateRedis:
    """A throwaway redis-server on its own port (never the shared one), no persistence."""

    def __init__(self, port: int | None = None, *flags: str) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.flags = flags  # more redis-server options (``--enable-debug-command yes``)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        if not os.path.exists(REDIS_SERVER):
            message = "redis-server is not installed"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                *self.flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"private redis-server did not start on {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

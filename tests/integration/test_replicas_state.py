"""Three gateway replicas on one Redis deciding together, judged at the upstream.

The upstream is a stub on loopback that counts, per model, the requests it holds at this
moment (and the most it ever held), can hold a model's requests until the test lets them go,
notices when the gateway hangs up on a held request, and can fail a model. So "at most 2 in
flight" is counted where it matters, at the upstream, not by asking the gateway.

- ``max_concurrent: 2`` across three replicas: a burst of nine holds exactly two upstream, the
  rest fail over (or get a 429 on a model with nothing else); every way a call ends gives its
  slot back; a replica killed while holding slots loses them within the lease.
- a sticky client's concurrent first requests and immediately alternated ones, spread over the
  replicas, all land on one deployment.
- a recovering deployment gets one half-open trial from all three replicas, not one each.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import shared_redis

LEASE = 3.0  # health.lease: how long a dead replica's slots outlive it
HOLD_LIMIT = 60.0  # seconds the stub holds a request at most


class GatedStub:
    """An OpenAI-shaped upstream answering ``ok``, per model: held, failing or free."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inflight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.gates: dict[str, threading.Event] = {}
        self.failing: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                model = str(body.get("model"))
                with stub.lock:
                    stub.calls[model] += 1
                    stub.inflight[model] += 1
                    stub.peak[model] = max(stub.peak[model], stub.inflight[model])
                try:
                    if model in stub.failing:
                        self._json(500, {"error": {"message": "down", "type": "server_error"}})
                    elif body.get("stream"):
                        self._stream(model)
                    elif self._wait(model):
                        self._json(200, _answer(model))
                finally:
                    with stub.lock:
                        stub.inflight[model] -= 1

            def _wait(self, model: str) -> bool:
                """Hold while the model's gate is closed; False if the gateway hung up."""
                gate = stub.gates.get(model)
                waited = 0.0
                while gate is not None and not gate.wait(0.02):
                    waited += 0.02
                    if waited > HOLD_LIMIT or self._gone():
                        self.close_connection = True
                        return False
                return True

            def _gone(self) -> bool:
                conn: socket.socket = self.connection
                readable, _, _ = select.select([conn], [], [], 0)
                if not readable:
                    return False
                try:
                    return conn.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1,
                         "model": model, "choices": [{"index": 0, "finish_reason": None,
                                                      "delta": {"content": "ok"}}]}  # fmt: skip
                self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                if self._wait(model):
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self, model: str) -> None:
        self.gates[model] = threading.Event()

    def release(self, model: str) -> None:
        gate = self.gates.pop(model, None)
        if gate is not None:
            gate.set()

    def close(self) -> None:
        for model in list(self.gates):
            self.release(model)
        self.server.shutdown()
        self.server.server_close()


def _answer(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
    }  # fmt: skip


def _config(stub: GatedStub, prefix: str) -> dict[str, Any]:
    def dep(model: str, **extra: Any) -> dict[str, Any]:
        return {"provider": "stub", "model": model, **extra}

    return {
        "providers": {
            "stub": {"type": "openai-compatible", "base_url": stub.url, "api_keys": ["sk-st-01"]}
        },
        "models": {
            "slots": {"deployments": [dep("slow", max_concurrent=2), dep("spare", priority=1)]},
            "slots-only": {"deployments": [dep("slow", max_concurrent=2)]},
            "cut": {"deployments": [dep("cut", max_concurrent=2)]},
            "killed": {"deployments": [dep("killed", max_concurrent=2)]},
            "trial": {"deployments": [dep("flaky"), dep("spare", priority=1)]},
            "sticky": {"strategy": "sticky", "deployments": [dep("a"), dep("b")]},
        },
        "routing": {"breaker": {"consecutive_failures": 1, "cooldown": 1}},
        "health": {"lease": LEASE},
        "shared": {
            "backend": "redis",
            "redis_url": shared_redis(),
            "key_prefix": prefix,
            "sync_interval": 0.1,
        },
        "logging": {"requests": False},
    }


@dataclass
class Cluster:
    replicas: list[Proc]
    stub: GatedStub
    config: dict[str, Any]
    prefix: str
    redis: redis.Redis

    def slots(self, deployment: str) -> int:
        return int(self.redis.zcard(f"{self.prefix}{{state}}:slots:stub/{deployment}"))

    def trials(self, counter: str) -> int:
        """A counter of the shared trial leases, summed over the replicas' /admin/health."""
        reports = [httpx.get(gw.url + "/admin/health", timeout=5).json() for gw in self.replicas]
        return sum(int(r["shared"]["trials"][counter]) for r in reports)

    def deployment(self, gw: Proc, dep_id: str) -> dict[str, Any]:
        report = httpx.get(gw.url + "/admin/health", timeout=5).json()
        found: dict[str, Any] = {d["id"]: d for d in report["deployments"]}[dep_id]
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    stub = GatedStub()
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    config = _config(stub, prefix)
    tmp = tmp_path_factory.mktemp("replicas-state")
    client = redis.Redis.from_url(shared_redis())
    replicas: list[Proc] = []
    try:
        for i in range(3):
            (tmp / f"r{i}").mkdir()
            replicas.append(start_gateway(config, tmp / f"r{i}", ready_within=90))
        yield Cluster(replicas, stub, config, prefix, client)
    finally:
        for r in replicas:
            r.stop()
        stub.close()
        client.close()


def _post(gw: Proc, model: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=HOLD_LIMIT
    )


def _done(futures: list[Future[httpx.Response]]) -> list[httpx.Response]:
    return [f.result() for f in futures if f.done()]


def test_max_concurrent_holds_for_all_replicas_together(cluster: Cluster) -> None:
    stub, replicas = cluster.stub, cluster.replicas
    stub.hold("slow")
    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(_post, replicas[i % 3], "slots") for i in range(9)]
        until(lambda: stub.inflight["slow"] == 2 and len(_done(futures)) == 7, 60, step=0.02)
        for r in _done(futures):  # every other call failed over at once
            assert r.status_code == 200
            assert r.headers["x-turnout-deployment"] == "stub/spare"
        # The deployment alone (no other to fail over to): the configured 429.
        alone = _post(replicas[2], "slots-only")
        assert alone.status_code == 429 and "retry-after" in alone.headers
        assert cluster.slots("slow") == 2
        shown = [cluster.deployment(gw, "stub/slow")["shared_slots"] for gw in replicas]
        assert sum(s["held_here"] for s in shown) == 2  # /admin/health tells who holds them
        assert sum(s["refused"] for s in shown) >= 1
        stub.release("slow")
        held = [f.result() for f in futures if f.result().headers["x-turnout-deployment"]
                == "stub/slow"]  # fmt: skip
    assert len(held) == 2 and all(r.status_code == 200 for r in held)
    assert stub.peak["slow"] == 2  # never more upstream, whatever replica sent them
    until(lambda: cluster.slots("slow") == 0, 5)  # each success gave its slot back


def test_every_way_a_call_ends_gives_its_slot_back(cluster: Cluster) -> None:
    stub, (one, two, three) = cluster.stub, cluster.replicas
    stub.hold("cut")
    body = json.dumps({"model": "cut", "messages": [{"role": "user", "content": "hi"}]})
    # The client goes away while the upstream still thinks.
    raw = socket.create_connection(("127.0.0.1", one.port))
    raw.sendall(
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: [::1]\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n{body}".encode()
    )
    until(lambda: stub.inflight["cut"] == 1 and cluster.slots("cut") == 1, 30)
    raw.close()
    until(lambda: cluster.slots("cut") == 0 and stub.inflight["cut"] == 0, 5)
    # A stream cut by its client after the first chunk.
    stream_body = {**json.loads(body), "stream": True}
    with (
        httpx.Client(timeout=HOLD_LIMIT) as client,
        client.stream("POST", two.url + "/v1/chat/completions", json=stream_body) as r,
    ):
        assert r.status_code == 200
        chunks = r.iter_raw()  # kept: a dropped iterator would close the response at once
        assert next(chunks)  # committed: the first chunk reached the client
        assert cluster.slots("cut") == 1 and stub.inflight["cut"] == 1
    until(lambda: cluster.slots("cut") == 0 and stub.inflight["cut"] == 0, 5)
    # An upstream error.
    stub.release("cut")
    stub.failing.add("cut")
    assert _post(three, "cut").status_code >= 500
    until(lambda: cluster.slots("cut") == 0, 5)
    assert stub.peak["cut"] == 1


def test_a_killed_replica_loses_its_slots_within_the_lease(
    cluster: Cluster, tmp_path: Path
) -> None:
    stub, survivor = cluster.stub, cluster.replicas[0]
    doomed = start_gateway(cluster.config, tmp_path, ready_within=90)
    stub.hold("killed")
    try:
        with ThreadPoolExecutor(2) as pool:
            for _ in range(2):
                pool.submit(_post, doomed, "killed")
            until(lambda: stub.inflight["killed"] == 2 and cluster.slots("killed") == 2, 30)
            assert _post(survivor, "killed").status_code == 429  # both slots are the doomed's
            doomed.stop()  # SIGKILL: nothing is given back
    finally:
        doomed.stop()
    until(lambda: stub.inflight["killed"] == 0, 5)  # the upstream saw it hang up
    stub.release("killed")
    assert cluster.slots("killed") == 2  # still held in Redis by a dead process ...
    # ... until their lease runs out: then the survivor gets them.
    until(lambda: _post(survivor, "killed").status_code == 200, LEASE + 10, step=0.1)
    assert stub.peak["killed"] == 2


def test_a_sticky_client_lands_on_one_deployment_from_its_very_first_requests(
    cluster: Cluster,
) -> None:
    replicas = cluster.replicas
    for _ in range(3):  # three clients: each must agree with itself
        session = {"x-session-id": f"agent-{uuid.uuid4().hex[:8]}"}
        with ThreadPoolExecutor(6) as pool:  # its first six requests at once, on all three
            first = list(
                pool.map(lambda i, s=session: _post(replicas[i % 3], "sticky", s), range(6))
            )
        then = [_post(gw, "sticky", session) for gw in replicas * 2]  # alternated, no wait
        answered = {r.headers["x-turnout-deployment"] for r in first + then}
        assert all(r.status_code == 200 for r in first + then)
        assert len(answered) == 1, answered  # by chance alone: 1 in 2048


def test_a_recovering_deployment_gets_one_trial_from_all_replicas(cluster: Cluster) -> None:
    stub, replicas = cluster.stub, cluster.replicas
    stub.failing.add("flaky")
    r = _post(replicas[0], "trial")
    assert r.status_code == 200 and r.headers["x-turnout-deployment"] == "stub/spare"
    until(lambda: all(cluster.deployment(gw, "stub/flaky")["state"] in ("ejected", "half_open")
                      for gw in replicas), 5)  # fmt: skip
    stub.failing.discard("flaky")
    stub.hold("flaky")  # recovered, but slow: its trial is still running when the others ask
    until(lambda: all(cluster.deployment(gw, "stub/flaky")["state"] == "half_open"
                      for gw in replicas), 10)  # fmt: skip
    calls, taken = stub.calls["flaky"], cluster.trials("taken")
    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(_post, replicas[i % 3], "trial") for i in range(9)]
        until(lambda: stub.inflight["flaky"] == 1 and len(_done(futures)) == 8, 60, step=0.02)
        assert stub.calls["flaky"] - calls == 1  # one trial for the three replicas
        assert cluster.trials("taken") - taken == 1 and cluster.trials("refused") >= 2
        for r in _done(futures):
            assert r.headers["x-turnout-deployment"] == "stub/spare"
        stub.release("flaky")
        trial = [f.result() for f in futures if f.result().headers["x-turnout-deployment"]
                 == "stub/flaky"]  # fmt: skip
    assert len(trial) == 1 and trial[0].status_code == 200
    # Its success closes the breaker everywhere: every replica sends there again.
    until(lambda: all(cluster.deployment(gw, "stub/flaky")["state"] == "active"
                      for gw in replicas), 5)  # fmt: skip
    for gw in replicas:
        assert _post(gw, "trial").headers["x-turnout-deployment"] == "stub/flaky"


def test_a_replica_whose_redis_dies_keeps_serving_on_its_own(tmp_path: Path) -> None:
    """A private redis-server (never the shared one) killed under a running gateway: every
    shared decision falls back to the process's own within the timeout."""
    from tests.unit.cache.redis_support import PrivateRedis

    stub = GatedStub()
    private = PrivateRedis().start()
    config = _config(stub, f"turnout-test:{uuid.uuid4().hex[:8]}:")
    config["shared"] |= {"redis_url": private.url, "redis_timeout": 0.5}
    gw = start_gateway(config, tmp_path, ready_within=90)
    session = {"x-session-id": "agent-alone"}
    try:
        assert _post(gw, "slots-only").status_code == 200
        pinned = _post(gw, "sticky", session).headers["x-turnout-deployment"]
        private.stop()
        for _ in range(3):
            assert _post(gw, "slots-only").status_code == 200  # its own max_concurrent only
            assert _post(gw, "sticky", session).headers["x-turnout-deployment"] == pinned
            fresh = {"x-session-id": f"agent-{uuid.uuid4().hex[:8]}"}
            assert _post(gw, "sticky", fresh).status_code == 200  # pinned here alone
        until(lambda: "shared state unreachable" in gw.output(), 10, step=0.1)
    finally:
        gw.stop()
        private.stop()
        stub.close()

"""What one call leaves behind in a real gateway process: nothing that outlives it
(docs/measurements.md#memory).

The gateway is the real ``turnout serve`` (the defaults, the test's own mock provider relaying
``x-mock-*``), run by a small bootstrap around the unchanged CLI that, when a file appears,
runs a full garbage collection and writes the number of live objects of each type. The test
drives two identical rounds of the traffic a clean benchmark never sends, each call on its own
connection: streams, upstream 500s (retried) and 400s, streams the upstream breaks or
truncates, clients that leave before the answer's head, mid-stream, or reset a kept-alive
connection after their answer. After each round it waits until nothing is in flight and the
mock has seen every abandoned call cancelled, then counts. The first round warms up (lazy
imports, caches, pools); after the second, no type may have grown by more than a small share
of the round's calls: an object kept per call grows by one per call.

Nor may a round leave objects in reference cycles: the cyclic GC's own count of what it freed
(from ``gc.callbacks``) must stay below that share too.

What this caught (counts after a round with 100 clients leaving before the head):

- the upstream ``Response`` of a call whose client left before the answer's head kept its
  read-timeout timer armed (300 s by default): the loop held it, its connection, parser and
  waiter and the request's context, ~2 KB each, for five minutes (+25 MB RSS in 10 s of such
  clients in the measurement);
- a client connection reset after its answer kept uvicorn's keep-alive timer armed (75 s): the
  protocol, its last scope, cycle and task stayed that long after the connection was gone.

Counting, not timing: every wait is on a condition, and the verdict is object counts.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.metrics import samples
from tests.support.procs import Proc, mock_provider, start_gateway, start_mock
from tests.support.wait import until

ROUNDS = 2
CONCURRENCY = 16
BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]%b}'
STREAM = BODY % b',"stream":true'
PLAIN = BODY % b""

# (kind, calls per round)
MIX = {
    "stream": 300,
    "upstream 500": 150,
    "upstream 400": 150,
    "stream broken mid-way": 100,
    "stream truncated": 100,
    "kept alive, then reset": 100,
    "gone before the head": 100,
    "gone mid-stream": 100,
}
CALLS = sum(MIX.values())
GONE = MIX["gone before the head"] + MIX["gone mid-stream"]
# A type may grow this much from round 1 to round 2 (bounded caches settling: ~25 at most
# measured): far below one object per call.
SLACK = CALLS // 20
# Not counted: the SQLite connection's list of weak references to its cursors, pruned only
# every 200 cursors (a kept object shows as itself anyway, not only as a weakref to it).
UNCOUNTED = {"weakref.ReferenceType"}

GARBAGE = "(objects the cyclic GC freed)"  # a name no type has; as in _BOOT
_BOOT = """
import collections, gc, json, os, sys, threading, time
ask = os.environ["COUNTS_ASK"]
freed = [0]
def _freed(phase, info):
    if phase == "stop":
        freed[0] += info["collected"]
gc.callbacks.append(_freed)
def _watch():
    while True:
        if os.path.exists(ask):
            gc.collect()
            counts = collections.Counter(
                f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
            )
            counts["(objects the cyclic GC freed)"] = freed[0]
            with open(ask + ".tmp", "w") as f:
                f.write(json.dumps(counts))  # one shot: json.dump leaves cycles
            os.replace(ask + ".tmp", ask + ".json")
            os.remove(ask)
        time.sleep(0.02)
threading.Thread(target=_watch, daemon=True).start()
"""  # start_gateway runs the CLI after it


def _request(body: bytes, *headers: str, close: bool = True) -> bytes:
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: [::1]\r\nContent-Type: application/json\r\n"
    head += "".join(f"{h}\r\n" for h in headers)
    if close:
        head += "Connection: close\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a client that gives up abruptly does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Traffic:
    def __init__(self, port: int, mock: Proc) -> None:
        self.port = port
        self.mock = mock
        self.statuses: collections.Counter[str] = collections.Counter()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def to_the_end(self, raw: bytes) -> None:
        """Send, read until the gateway closes (``Connection: close``), note the status."""
        reader, writer = await self._open()
        writer.write(raw)
        try:
            data = await reader.read()
        except ConnectionResetError:  # a stream the upstream broke: the gateway cuts it
            data = b""
        writer.close()
        self.statuses[data[9:12].decode() or "cut"] += 1

    async def kept_then_reset(self) -> None:
        reader, writer = await self._open()
        writer.write(_request(PLAIN, close=False))
        head = await reader.readuntil(b"\r\n\r\n")
        size = re.search(rb"(?i)content-length: *(\d+)", head)
        assert size is not None, head
        await reader.readexactly(int(size[1]))
        self.statuses[head[9:12].decode()] += 1
        _reset(writer)  # the gateway has armed its keep-alive timer for this connection

    async def gone_mid_stream(self) -> None:
        reader, writer = await self._open()
        writer.write(_request(STREAM, "x-mock-chunk-ms: 50", "x-mock-tokens: 40"))
        try:
            await reader.readuntil(b"data:")
        except asyncio.IncompleteReadError as e:
            raise AssertionError(e.partial) from None
        writer.close()
        self.statuses["gone mid-stream"] += 1

    async def gone_before_the_head(self, n: int) -> None:
        """``n`` clients send a call the mock answers after 30 s, and leave once the mock has
        them all (half with FIN, half with a reset)."""
        before = self.mock_stats()["requests"]
        conns = []
        for _ in range(n):
            _, writer = await self._open()
            writer.write(_request(PLAIN, "x-mock-ttft-ms: 30000"))
            conns.append(writer)
        await _until(lambda: self.mock_stats()["requests"] >= before + n)
        for i, writer in enumerate(conns):
            if i % 2:
                _reset(writer)
            else:
                writer.close()
        self.statuses["gone before the head"] += n

    def mock_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(self.mock.url + "/_mock/stats").json()
        return stats

    async def round(self) -> None:
        sent_whole = {
            "stream": _request(STREAM),
            "upstream 500": _request(PLAIN, "x-mock-status: 500"),
            "upstream 400": _request(PLAIN, "x-mock-status: 400"),
            "stream broken mid-way": _request(STREAM, "x-mock-fault: error-midstream"),
            "stream truncated": _request(STREAM, "x-mock-fault: truncate"),
        }
        jobs: list[Callable[[], Awaitable[None]]] = []
        for kind, raw in sent_whole.items():
            jobs += [functools.partial(self.to_the_end, raw)] * MIX[kind]
        jobs += [self.kept_then_reset] * MIX["kept alive, then reset"]
        jobs += [self.gone_mid_stream] * MIX["gone mid-stream"]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Callable[[], Awaitable[None]]) -> None:
            async with gate:
                await job()

        # Alone first: it waits for the mock to count its calls, which no other may add to.
        await self.gone_before_the_head(MIX["gone before the head"])
        await asyncio.gather(*(one(j) for j in jobs))


async def _until(check: Callable[[], object], limit: float = 60.0) -> None:
    await asyncio.to_thread(until, check, limit)


def _settle(gw: Proc, traffic: Traffic, gone: int, calls: int) -> None:
    """Wait until nothing is in flight, the mock has seen ``gone`` calls cancelled (every
    abandoned one so far: the gateway dropped its upstream call) and the request log has
    written a row for each of the ``calls`` made so far: a call is held by the log's drain
    until its row is made, and a count taken before that (a loaded machine) saw tens of them
    as "kept"."""
    seen: dict[str, Any] = {}

    def settled() -> bool:
        stats = traffic.mock_stats()
        found = samples(gw)
        seen.update(
            in_flight=found[("turnout_requests_in_flight", frozenset())],
            written=found[("turnout_request_log_written_rows_total", frozenset())],
            cancelled=stats["cancelled_requests"] + stats["cancelled_streams"],
            mock=stats,
        )
        return bool(
            seen["in_flight"] == 0 and seen["cancelled"] >= gone and seen["written"] >= calls
        )

    try:
        until(settled, 60)
    except AssertionError:
        raise AssertionError(f"not settled: {seen}, {gone} cancels expected") from None


def _count(ask: Path) -> collections.Counter[str]:
    ask.write_text("")
    done = ask.with_name(ask.name + ".json")
    until(done.exists, 60)
    counts: collections.Counter[str] = collections.Counter(json.loads(done.read_text()))
    done.unlink()
    return counts


def _counts(ask: Path) -> collections.Counter[str]:
    """Live objects by type once two counts in a row agree: on a loaded machine the last
    calls' drain, rows and closes were still under way when the first count was taken (tens
    of dicts, lists and tuples seen as "kept"). What a call really keeps stays in every
    count, so it is still seen."""
    deadline = time.monotonic() + 60
    last = _count(ask)
    while True:
        now = _count(ask)
        moved = {t for t in now.keys() | last.keys() if t != GARBAGE and now[t] != last[t]}
        if not moved or time.monotonic() > deadline:
            return now
        last = now


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[tuple[Proc, Proc, Path]]:
    mock = start_mock()
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"*": {"deployments": [{"provider": "mock"}]}},
        # The failures are the point: the breaker must not turn them into refusals.
        "routing": {"breaker": {"consecutive_failures": 10**9, "min_requests": 10**9}},
        # The request log's hourly upkeep first runs 5 s after the start, compiling its DELETE
        # into SQLAlchemy's statement cache (~80 dicts, lists and tuples, kept for good): on a
        # loaded machine that fell in the second round and read as kept per call. Nothing to
        # prune here, so no upkeep.
        "storage": {"retention_days": 0},
    }
    ask = tmp_path / "counts"
    gw = start_gateway(config, tmp_path, env={"COUNTS_ASK": str(ask)}, boot=_BOOT)
    try:
        yield gw, mock, ask
    finally:
        gw.stop()
        mock.stop()


@pytest.mark.timeout(600)
def test_streamed_failing_and_abandoned_calls_leave_nothing_behind(
    gateway: tuple[Proc, Proc, Path],
) -> None:
    gw, mock, ask = gateway
    traffic = Traffic(gw.port, mock)
    counts = []
    for n in range(1, ROUNDS + 1):
        asyncio.run(traffic.round())
        _settle(gw, traffic, n * GONE, n * CALLS)
        counts.append(_counts(ask))
    # The traffic was what it says: streams and failures answered, every kind done.
    s = traffic.statuses
    assert s["200"] >= ROUNDS * (MIX["stream"] + MIX["kept alive, then reset"]), s
    assert s["500"] + s["502"] + s["503"] >= ROUNDS * MIX["upstream 500"], s
    assert s["400"] >= ROUNDS * MIX["upstream 400"], s
    assert s["gone before the head"] == ROUNDS * MIX["gone before the head"], s
    first, last = counts[0], counts[-1]
    # Nor left to the cyclic GC: the gateway runs it seldom (turnout.allocator), so what a
    # call leaves in a cycle (with everything the cycle reaches) piles up between collections.
    # A failed stream once left ~300 objects that way, a cancelled disconnect watcher ~17.
    garbage = last.pop(GARBAGE) - first.pop(GARBAGE)
    assert garbage <= SLACK, f"{garbage} objects freed by the cyclic GC in {CALLS} calls"
    grown = {
        t: last[t] - first[t] for t in last if last[t] - first[t] > SLACK and t not in UNCOUNTED
    }
    assert not grown, f"kept per call ({CALLS} calls a round, slack {SLACK}): {grown}"
    # The kinds the two fixes are about, by name: none left once their calls are over.
    assert last["turnout.upstream.h1.response.Response"] <= 2, last
    assert last["turnout.server.protocol.GatewayProtocol"] <= 2, last

"""Where a request's time goes, segment by segment, in the gateway under the benchmark's load.

A sampling profiler spreads a request over hundreds of frames (and on asyncio misplaces some),
and cProfile inflates every call; a micro-benchmark of one function runs it with everything in
the CPU's caches, often two or three times faster than it runs between other requests. This
times a fixed list of the request path's synchronous methods where they run: the gateway is
started through this file (``--serve``), which wraps each method of :data:`SEGMENTS` with two
``perf_counter_ns`` reads (~50 ns each, included) before handing over to the CLI, and prints,
at exit, the time each took per request (inclusive of what it calls; a method called for a
batch of requests is divided by the requests). Coroutines are not timed (their time includes
what they await).

    uv run --group bench python bench/segments.py                  # non-stream, defaults
    uv run --group bench python bench/segments.py --mode st --seconds 8
    uv run --group bench python bench/segments.py --mode st --target turnout-translate

The figures are wall time on the gateway's core: another thread of the process running there
in between (SQLite's) is counted in the segment it interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import inspect
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# (module, class, method): the synchronous steps of a request, in the order they run.
SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("turnout.server.protocol", "GatewayProtocol", "data_received"),
    ("turnout.server.protocol", "GatewayProtocol", "on_url"),
    ("turnout.server.protocol", "GatewayProtocol", "on_header"),
    ("turnout.server.protocol", "GatewayProtocol", "on_headers_complete"),
    ("turnout.server.protocol", "GatewayProtocol", "on_message_complete"),
    ("turnout.auth.step", "AuthStep", "identify"),
    ("turnout.limits.memory", "MemoryLimiter", "admit_now"),
    ("turnout.routing.router", "Router", "resolve"),
    ("turnout.providers.base", "HTTPProvider", "request_headers"),
    ("turnout.upstream.h1.response", "Response", "arm"),
    ("turnout.upstream.h1.connection", "Connection", "data_received"),
    ("turnout.upstream.h1.response", "Response", "_feed"),
    ("turnout.protocols.openai.usage", "OpenAIStream", "feed"),
    # translated streams (--target turnout-translate): Anthropic events in, OpenAI chunks out
    ("turnout.protocols.sse", "SSEParser", "feed_data"),
    ("turnout.protocols.anthropic.stream", "StreamDecoder", "_data"),
    ("turnout.protocols.openai.stream", "StreamEncoder", "feed"),
    ("turnout.providers.translate", "", "upstream_call"),
    ("turnout.server.cycle", "Exchange", "_head"),
    ("turnout.server.protocol", "GatewayProtocol", "on_response_complete"),
    ("turnout.observability.logging", "RequestLog", "flush"),
    ("turnout.observability.finish", "Finisher", "finish"),
    ("turnout.observability.logging", "RequestLog", "_render"),
    ("turnout.observability.logging", "RequestLog", "_emit"),
    ("turnout.observability.metrics", "Metrics", "observe"),
    ("turnout.storage.sink", "RowSink", "observe"),
    ("turnout.storage.rollup", "Summer", "add"),
)
REQUESTS = "GatewayProtocol.on_headers_complete"  # called once per request: the divisor


def _wrap(totals: dict[str, list[int]], module: str, cls: str, name: str) -> None:
    """``cls`` empty: a module function, timed where its module's own code calls it."""
    mod = importlib.import_module(module)
    owner = getattr(mod, cls) if cls else mod
    func = getattr(owner, name)
    if inspect.iscoroutinefunction(func):
        raise TypeError(f"{cls}.{name} is a coroutine function")
    acc = totals.setdefault(f"{cls or module}.{name}", [0, 0])
    clock = time.perf_counter_ns

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = clock()
        try:
            return func(*args, **kwargs)
        finally:
            acc[0] += clock() - began
            acc[1] += 1

    setattr(owner, name, timed)


def _report(totals: dict[str, list[int]], out: Path) -> None:
    n = totals[REQUESTS][1] or 1
    lines = [f"{n} requests; µs per request (inclusive), calls per request"]
    for label, (ns, calls) in totals.items():
        lines.append(f"  {ns / n / 1000:7.2f}  {calls / n:6.2f}  {label}")
    out.write_text("\n".join(lines) + "\n")


def serve(out: Path, argv: list[str]) -> None:
    """In the gateway's process: wrap the segments, then run the CLI."""
    # This file's folder holds bench/profile.py, which would shadow the standard library's.
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("bench")]
    totals: dict[str, list[int]] = {}
    for segment in SEGMENTS:
        _wrap(totals, *segment)
    atexit.register(_report, totals, out)
    sys.argv = ["turnout", *argv]
    runpy.run_module("turnout.cli.main", run_name="__main__", alter_sys=True)


def main() -> None:
    import run  # bench/*.py: run as a script, bench/ is on the path (not in --serve)

    cand = run.cand
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", default="ns", choices=["ns", "st"])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--target", default="turnout", choices=["turnout", "turnout-translate"])
    a = ap.parse_args()
    os.sched_setaffinity(0, {int(run.LOAD_CORE)})
    with tempfile.TemporaryDirectory(prefix="turnout-segments-") as td:
        tmp = Path(td)
        key = run.gateway_key(tmp)
        lua = cand.lua_script(tmp / "load.lua", a.mode, key)
        mock = run.start_mock(tmp)
        cmd = run.target_cmd(a.target, tmp)
        report = tmp / "segments.txt"
        assert cmd is not None and cmd[1:3] == ["-m", "turnout.cli.main"]
        cmd = [cmd[0], str(Path(__file__).resolve()), "--serve", str(report), *cmd[3:]]
        proc = run.start_in(tmp, cmd, tmp / "gateway.log")
        try:
            cand.wait_port(run.PROXY_PORT, 60)
            cand.wrk(run.PROXY_PORT, lua, 64, 2)  # warm up
            c0 = cand.cpu_seconds(proc.pid)
            w = cand.wrk(run.PROXY_PORT, lua, 64, a.seconds)
            used = cand.cpu_seconds(proc.pid) - c0
        finally:
            cand.stop(proc)
            cand.stop(mock)
        per = used / max(1, w["requests"]) * 1e6
        print(f"{a.target} {a.mode}: {w['rps']:,.0f} req/s, {per:.0f} µs CPU per request")
        print("(CPU with the timers attached; the segments below include the warm-up)")
        print(report.read_text() if report.exists() else "no report: see the gateway's log")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), sys.argv[3:])
    else:
        main()

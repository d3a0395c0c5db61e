"""What one gateway process keeps after each kind of call: object counts, Python and C heaps.

Starts the repository's mock provider and ``turnout serve`` with ``bench/run.py``'s default
configuration and key, plus ``forward_headers: ["x-mock-*"]`` (the soak's, bench/soak.py) so
the mock can be told to fail, and the circuit breaker out of the way (a phase of upstream
500s would otherwise turn the next phases into the gateway's own refusals). Then runs the
phases given as ``KIND:SECONDS`` one after the other and, after each (once the in-flight calls
have finished), prints the gateway's RSS, the objects the cyclic GC tracks (after a full
collection), the blocks in Python's allocator, glibc's heap (in use / free), and the object
types that grew most since the phase before. Objects that grow with the calls are kept per
call; RSS that grows while they stay flat is the allocators' (docs/measurements.md#memory).

Kinds: ``ns``, ``st`` (20-chunk stream), ``s500``, ``s400``, ``mid`` (stream broken
mid-way), ``trunc`` (truncated) under wrk c=64; ``mix`` (bench/soak.py's rotation);
``soak`` (the rotation plus 4 cancelling clients, as ``bench/run.py --soak``); ``before``,
``midclose``, ``reset``, ``cancel`` (all three): only cancelling clients (``--clients``),
each leaving before the answer's head, mid-stream, or with a reset mid-stream.

    uv run python scripts/retention_report.py before:10 cancel:30
    uv run python scripts/retention_report.py soak:10 soak:30 soak:30 soak:30

The counts are read by a small bootstrap (``_BOOT``) around the unchanged CLI, as
``scripts/rss_report.py`` does; nothing is added to the gateway for it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import rss_report  # noqa: E402  (scripts/ is on the path when run as a script)
import soak  # noqa: E402

run = rss_report.run
cand = run.cand

# Runs the CLI unchanged; when the file $RETENTION_ASK appears, collects and writes the counts.
_BOOT = """
import collections, ctypes, gc, json, os, sys, threading, time
ask = os.environ["RETENTION_ASK"]
_NAMES = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class _MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in _NAMES.split()]
def _watch():
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MI
    while True:
        if os.path.exists(ask):
            gc.collect()
            objs = gc.get_objects()
            types = collections.Counter(
                f"{type(o).__module__}.{type(o).__qualname__}" for o in objs)
            mi = libc.mallinfo2()
            out = {"objects": len(objs), "types": types, "py_blocks": sys.getallocatedblocks(),
                   "heap_used": mi.uordblks, "heap_free": mi.fordblks}
            del objs
            with open(ask + ".tmp", "w") as f:
                json.dump(out, f)
            os.replace(ask + ".tmp", ask + ".json")
            os.remove(ask)
        time.sleep(0.05)
threading.Thread(target=_watch, daemon=True).start()
sys.argv = ["turnout", *sys.argv[1:]]
from turnout.cli.main import app
app()
"""

WRK = {
    "ns": ("ns", {}),
    "st": ("st", {}),
    "s500": ("ns", {"x-mock-status": "500"}),
    "s400": ("ns", {"x-mock-status": "400"}),
    "mid": ("st", {"x-mock-fault": "error-midstream"}),
    "trunc": ("st", {"x-mock-fault": "truncate"}),
}
CANCELS = {
    "before": ["before-answer close"],
    "midclose": ["mid-stream close"],
    "reset": ["mid-stream reset"],
    "cancel": list(soak.CANCELS),
}
BODIES = {"ns": cand.BODY, "st": cand.BODY_STREAM}


def snapshot(tmp: Path, pid: int) -> dict[str, Any]:
    ask = tmp / "ask"
    ask.write_text("")
    done = tmp / "ask.json"
    deadline = time.monotonic() + 60
    while not done.exists():
        if time.monotonic() > deadline:
            sys.exit("the gateway wrote no counts")
        time.sleep(0.05)
    out: dict[str, Any] = json.loads(done.read_text())
    done.unlink()
    mem = rss_report.status(pid)
    out["rss"], out["anon"], out["file"] = mem["VmRSS"], mem["RssAnon"], mem["RssFile"]
    out["peak"] = mem["VmHWM"]
    return out


def script(tmp: Path, kind: str, key: str) -> Path:
    """The wrk script: bench/soak.py's rotation (``mix``), or one request of ``kind``, with
    the answers counted by status class."""
    path = tmp / f"{kind}.lua"
    if kind == "mix":
        path.write_text(soak.lua(BODIES, key))
        return path
    body, headers = WRK[kind]
    extra = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    plan = f"{{{{[[{BODIES[body].decode()}]], {{{extra}}}}}}}"
    path.write_text(soak._LUA.format(plan=plan, auth=key))
    return path


async def cancellers(kinds: list[str], n: int, secs: float, key: str, wrk: Any = None) -> str:
    """``n`` cancelling clients (bench/soak.py's) for ``secs``, or as long as ``wrk`` runs."""
    raw = {k: soak._request(BODIES[soak.CANCELS[k][0]], soak.CANCELS[k][1], key) for k in kinds}
    counts: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(soak._canceller(run.PROXY_PORT, raw, counts, stop)) for _ in range(n)
    ]
    res = await wrk if wrk is not None else await asyncio.sleep(secs)
    stop.set()
    await asyncio.gather(*tasks)
    done = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
    if res:
        done = (
            f"wrk {res['requests']:,} (2xx {res['s2xx']:,}, 4xx {res['s4xx']:,}, "
            f"5xx {res['s5xx']:,}, cut {res['errors']:,}) " + done
        )
    return done


def phase(tmp: Path, kind: str, secs: int, key: str, clients: int) -> str:
    if kind in CANCELS:
        return asyncio.run(cancellers(CANCELS[kind], clients, secs, key))
    lua = script(tmp, "mix" if kind == "soak" else kind, key)
    wrk = soak._wrk(run.PROXY_PORT, lua, run.LOAD_CORE, secs)
    n = soak.CANCELLERS if kind == "soak" else 0
    return asyncio.run(cancellers(list(soak.CANCELS), n, secs, key, wrk))


def report(label: str, now: dict[str, Any], before: dict[str, Any], top: int) -> None:
    mb = 2**20
    print(
        f"{label}\n    RSS {now['rss']:5.1f} MB (peak {now['peak']:5.1f}, "
        f"anon {now['anon']:4.1f}, file {now['file']:4.1f})  objects {now['objects']:>8,}  "
        f"py blocks {now['py_blocks']:>9,}  heap used {now['heap_used'] / mb:5.1f} MB "
        f"free {now['heap_free'] / mb:5.1f} MB",
        flush=True,
    )
    a, b = before["types"], now["types"]
    grown = sorted(((b[t] - a.get(t, 0), t) for t in b), reverse=True)[:top]
    print("    grew: " + ", ".join(f"{t} +{n:,}" for n, t in grown if n > 0), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("phases", nargs="+", help="KIND:SECONDS, run in order")
    ap.add_argument("--clients", type=int, default=8, help="cancelling clients (cancel kinds)")
    ap.add_argument("--top", type=int, default=8, help="growing types shown per phase")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="turnout-retention-") as td:
        tmp = Path(td)
        key = run.gateway_key(tmp)
        cmd = soak.forwarding(run.target_cmd("turnout", tmp), tmp)
        # Failures are the point here: the breaker must not turn them into the gateway's own
        # refusals (a phase of upstream 500s cools the deployment down for the next phases).
        cfg_path = Path(cmd[cmd.index("-c") + 1])
        cfg = json.loads(cfg_path.read_text())
        cfg["routing"] = {"breaker": {"consecutive_failures": 10**9, "min_requests": 10**9}}
        cfg_path.write_text(json.dumps(cfg))
        serve = [sys.executable, "-c", _BOOT, *cmd[cmd.index("serve") :]]
        env = {
            **os.environ,
            "TURNOUT_MASTER_KEY": run.MASTER_KEY,
            "RETENTION_ASK": str(tmp / "ask"),
        }
        mock = run.start_mock(tmp)
        cand.wait_port_free(run.PROXY_PORT)
        with open(tmp / "gateway.log", "ab") as log:
            proc = subprocess.Popen(
                ["taskset", "-c", run.SERVER_CORE, *serve],
                cwd=tmp,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            cand.wait_port(run.PROXY_PORT, 60)
            prev = snapshot(tmp, proc.pid)
            report("started", prev, prev, 0)
            for spec in a.phases:
                kind, _, secs = spec.partition(":")
                did = phase(tmp, kind, int(secs or 10), key, a.clients)
                # calls still winding down (in flight) are not what is kept: let them finish
                soak.settle(run.PROXY_PORT)
                now = snapshot(tmp, proc.pid)
                report(f"{spec}: {did}", now, prev, a.top)
                prev = now
        finally:
            cand.stop(proc)
            cand.stop(mock)


if __name__ == "__main__":
    main()

"""Where one gateway process's resident memory goes (issue #25's RSS target).

Starts ``turnout serve`` with the benchmark's default configuration (``bench/run.py``'s
``gateway_config``/``target_cmd``: defaults, request log and SQLite on, a master key and one
gateway key with an RPM limit) and prints its RSS once idle, the modules it has imported (count,
per top-level package), and what each of the biggest packages costs on its own: imported in a
fresh interpreter, its RSS over a bare one. ``--load N`` then drives N seconds of wrk at c=64
(non-stream, then a 20-chunk stream) against the repository's mock provider and prints RSS and
peak RSS after. The gateway's module list is read by a small bootstrap (this script's
``_BOOT``) that runs ``turnout.cli.main`` unchanged and writes ``sys.modules`` to a file when
asked: nothing is added to the gateway for it.

    uv run python scripts/rss_report.py                 # idle only (~10 s)
    uv run python scripts/rss_report.py --load 3        # plus 3 s of each load
    uv run python scripts/rss_report.py --env MALLOC_ARENA_MAX=2
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))  # bench/run.py imports its siblings (scaling, soak)
_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None and _spec.loader is not None
run: Any = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = run
_spec.loader.exec_module(run)
cand = run.cand

# Runs the CLI exactly as ``turnout serve`` does; a daemon thread writes sys.modules as JSON to
# $RSS_REPORT_DUMP.json whenever the file $RSS_REPORT_DUMP appears (then removes it).
_BOOT = """
import json, os, sys, threading, time
ask = os.environ["RSS_REPORT_DUMP"]
def _watch():
    while True:
        if os.path.exists(ask):
            with open(ask + ".json", "w") as f:
                json.dump(sorted(sys.modules), f)
            os.remove(ask)
        time.sleep(0.05)
threading.Thread(target=_watch, daemon=True).start()
sys.argv = ["turnout", *sys.argv[1:]]
from turnout.cli.main import app
app()
"""

# RSS a package adds to an interpreter that already holds what every gateway start needs:
# every module of it the gateway imported (a package's __init__ may import little).
_DELTA = """
import asyncio, importlib, os, sys
import httptools, orjson, uvloop
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
base, n = rss(), len(sys.modules)
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print((rss() - base) / 2**20, len(sys.modules) - n)
"""


def status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"no {path.name} after {timeout} s")
        time.sleep(0.05)


def modules_of(tmp: Path) -> list[str]:
    ask = tmp / "dump"
    ask.write_text("")
    wait_for(tmp / "dump.json", 60)
    time.sleep(0.1)  # the writer closes the file
    mods: list[str] = json.loads((tmp / "dump.json").read_text())
    (tmp / "dump.json").unlink()
    return mods


def package_cost(names: list[str]) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", _DELTA, *names], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return float("nan"), 0
    mb, count = out.stdout.split()
    return float(mb), int(count)


def line(label: str, s: dict[str, float]) -> str:
    return (
        f"{label:<22} RSS {s['VmRSS']:6.1f} MB  peak {s['VmHWM']:6.1f} MB  "
        f"(anon {s['RssAnon']:5.1f}, file {s['RssFile']:5.1f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--load", type=int, default=0, help="seconds of wrk per mode (0: idle only)")
    ap.add_argument("--top", type=int, default=25, help="packages to cost one by one")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the gateway")
    ap.add_argument("--modules", type=Path, help="write the gateway's module list here")
    a = ap.parse_args()
    if a.load and shutil.which("wrk") is None:
        sys.exit("--load needs wrk")
    extra = dict(kv.split("=", 1) for kv in a.env)
    with tempfile.TemporaryDirectory(prefix="turnout-rss-") as td:
        tmp = Path(td)
        key = run.gateway_key(tmp)
        cmd = run.target_cmd("turnout", tmp)
        serve = [sys.executable, "-c", _BOOT, *cmd[cmd.index("serve") :]]
        env = {
            **os.environ,
            **extra,
            "TURNOUT_MASTER_KEY": run.MASTER_KEY,
            "RSS_REPORT_DUMP": str(tmp / "dump"),
        }
        mock = None
        if a.load:
            mock = run.start_mock(tmp)
        cand.wait_port_free(run.PROXY_PORT)
        with open(tmp / "gateway.log", "ab") as log:
            proc = subprocess.Popen(serve, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            cand.wait_port(run.PROXY_PORT, 60)
            time.sleep(1.0)  # the lifespan's first background rounds (not a synchronisation)
            idle = status(proc.pid)
            mods = modules_of(tmp)
            print(line("idle", idle))
            if a.load:
                for mode in ("ns", "st"):
                    lua = cand.lua_script(tmp / f"{mode}.lua", mode, key)
                    w = cand.wrk(run.PROXY_PORT, lua, 64, a.load)
                    print(line(f"after {mode} {w['requests']:,} req", status(proc.pid)))
                mods = modules_of(tmp)
        finally:
            cand.stop(proc)
            if mock is not None:
                cand.stop(mock)
    if a.modules:
        a.modules.write_text("\n".join(mods) + "\n")
    tops = collections.Counter(m.split(".")[0] for m in mods)
    print(f"\n{len(mods)} modules in sys.modules, {len(tops)} top-level packages")
    print("  " + ", ".join(f"{p} {n}" for p, n in tops.most_common(30)))
    skip = {"turnout", "__main__", "__mp_main__", "_BOOT"}
    biggest = [p for p, n in tops.most_common() if n >= 3 and p not in skip][: a.top]
    print("\nRSS a package adds on its own (fresh interpreter, shared imports overlap):")
    costs = sorted(
        ((package_cost([m for m in mods if m.split(".")[0] == p]), p) for p in biggest),
        reverse=True,
    )
    for (mb, count), p in costs:
        print(f"  {mb:6.1f} MB  {count:4d} modules  {p}")


if __name__ == "__main__":
    main()

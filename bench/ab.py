"""CPU per request of gateway variants, measured alternately in one run: A/B of a change.

A variant is ``[TREE:]NAME``. ``NAME`` is a configuration of the benchmark's gateway
(``bench/run.py``'s defaults with one part changed, see :data:`VARIANTS`); ``TREE`` is a
checkout with its own ``.venv`` (``uv sync --group bench`` in it) whose code runs that
variant, so the same configuration can be compared across two commits::

    git worktree add --detach ../base main && (cd ../base && uv sync --group bench)
    uv run --group bench python bench/ab.py ../base:defaults,.:defaults --rounds 3
    uv run --group bench python bench/ab.py defaults,unlimited,master,no-lines,no-storage
    uv run --group bench python bench/ab.py ../base:defaults,.:defaults --c1 10000

Each round starts every variant afresh (mock provider shared), warms it for a second, drives
``wrk -c64`` (``--conns``) non-stream (or ``--mode st``) for ``--seconds`` and reads the
process's CPU (utime + stime of all its threads, ``/proc``) over the requests answered, with
each thread's share. Runs of one variant differ by several µs on a VM, hence rounds and the
lowest of each.
``--c1 N`` measures latency instead: N requests one at a time per mode (non-stream, and a
stream's time to first byte), after a warm-up; their p99 moves by tenths of a millisecond
from run to run, hence several alternated rounds of many requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import run  # bench/*.py: run as a script, bench/ is on the path

cand = run.cand

# name -> (configuration changes merged into bench/run.py's defaults, the key presented:
# "limited" the benchmark's gateway key with an RPM limit, "unlimited" a gateway key without
# limits, "master" the master key)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "defaults": ({}, "limited"),  # request lines, SQLite log, a gateway key with an RPM limit
    "unlimited": ({}, "unlimited"),  # a key looked up in the directory, no limit to count
    "master": ({}, "master"),  # the master key: no key in the directory, no limit
    "no-lines": ({"logging": {"requests": False}}, "limited"),
    "no-storage": ({"storage": {"enabled": False}}, "master"),  # no keys without a database
    "quiet": ({"storage": {"enabled": False}, "logging": {"requests": False}}, "master"),
    # bench/run.py's turnout-translate: the OpenAI client's calls to an Anthropic upstream
    "translate": (
        {
            "providers": {
                "mock": {
                    "type": "anthropic",
                    "base_url": "http://127.0.0.1:{UP_PORT}",  # the mock's, when written
                    "api_keys": ["sk-bench"],
                }
            }
        },
        "limited",
    ),
}


def config(tmp: Path, label: str, changes: dict[str, Any]) -> Path:
    cfg = json.loads(run.gateway_config(tmp, quiet=False).read_text())
    for k, v in changes.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    path = tmp / f"ab-{label}.yaml"
    # The mock's port is read when the config is written: bench/instructions.py picks free
    # ports after this module was imported (a port fixed at import sent the translated
    # variant to nothing: a 502).
    path.write_text(json.dumps(cfg).replace("{UP_PORT}", str(run.UP_PORT)))
    return path


def threads(pid: int) -> dict[str, float]:
    """CPU seconds per thread (``tid:name``)."""
    out: dict[str, float] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        f = raw[raw.rindex(")") + 2 :].split()
        out[f"{stat.parent.name}:{name}"] = (int(f[11]) + int(f[12])) / cand.CLK_TCK
    return out


def unlimited_key(tmp: Path) -> str:
    """A second gateway key, without limits, in the same database."""
    cfg = run.gateway_config(tmp, quiet=False)
    out = subprocess.run(
        [run.PY, "-m", "turnout.cli.main", "keys", "create", "-c", str(cfg)],
        cwd=tmp,
        env={**os.environ, "TURNOUT_MASTER_KEY": run.MASTER_KEY},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def measure(
    tmp: Path, variant: str, keys: dict[str, str], a: argparse.Namespace
) -> tuple[float, str]:
    tree, _, name = variant.rpartition(":")
    changes, presented = VARIANTS[name]
    py = str(Path(tree).resolve() / ".venv" / "bin" / "python") if tree else run.PY
    label = variant.replace("/", "_").replace(":", "-").replace(".", "_")
    cfg = config(tmp, label, changes)
    lua = cand.lua_script(tmp / f"ab-{a.mode}-{presented}.lua", a.mode, keys[presented])
    cmd = [py, "-m", "turnout.cli.main", "serve", "-c", str(cfg), "--port", str(run.PROXY_PORT)]
    cand.wait_quiet(a.quiet, 10)
    cand.wait_port_free(run.PROXY_PORT)
    proc = run.start_in(tmp, cmd, tmp / f"ab-{label}.log")
    try:
        cand.wait_port(run.PROXY_PORT, 30)
        if a.c1:  # latency at concurrency 1 instead of CPU at c=--conns
            cand.EXTRA_HEADERS = f"Authorization: Bearer {keys[presented]}\r\n"
            cand.c1(run.PROXY_PORT, 50, 20)
            t0, c0 = threads(proc.pid), cand.cpu_seconds(proc.pid)
            lat = cand.c1(run.PROXY_PORT, a.c1)
            cpu = (cand.cpu_seconds(proc.pid) - c0) / (2 * a.c1) * 1e6
            t1 = threads(proc.pid)
            per = {k: (t1[k] - t0.get(k, 0.0)) / (2 * a.c1) * 1e6 for k in t1}
            shares = ", ".join(f"{k.split(':', 1)[1]} {v:.0f}" for k, v in per.items() if v >= 1)
            ns, st_ = lat["ns"], lat["st"]
            detail = (
                f"p50 {ns['total_p50_ms']:.3f} ms, stream TTFB p50 {st_['ttfb_p50_ms']:.3f}"
                f" p99 {st_['ttfb_p99_ms']:.3f} ms,"
                f" CPU {cpu:.0f} µs per call (both modes: {shares})"
            )
            return ns["total_p99_ms"], detail
        cand.wrk(run.PROXY_PORT, lua, a.conns, 1)
        t0, c0 = threads(proc.pid), cand.cpu_seconds(proc.pid)
        w = cand.wrk(run.PROXY_PORT, lua, a.conns, a.seconds)
        c1, t1 = cand.cpu_seconds(proc.pid), threads(proc.pid)
    finally:
        cand.stop(proc)
    n = max(1, w["requests"])
    if w["status_errors"] or w["errors"]:  # a refused request costs less: no figure then
        sys.exit(f"{variant}: {w['status_errors']} non-2xx answers, {w['errors']} errors")
    shares = {k: (t1[k] - t0.get(k, 0.0)) / n * 1e6 for k in t1}
    detail = ", ".join(f"{k.split(':', 1)[1]} {v:.1f}" for k, v in shares.items() if v >= 0.5)
    return (c1 - c0) / n * 1e6, detail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ", ".join(VARIANTS)
    ap.add_argument("variants", help=f"comma-separated [TREE:]NAME, NAME one of: {names}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--mode", choices=("ns", "st"), default="ns")
    ap.add_argument("--conns", type=int, default=64, help="wrk's connections (CPU runs)")
    ap.add_argument("--quiet", type=float, default=0.15, help="max other load before a run")
    ap.add_argument(
        "--c1",
        type=int,
        default=0,
        metavar="N",
        help="instead: N requests at concurrency 1 per mode, the non-stream p99 (ms) compared",
    )
    a = ap.parse_args()
    variants = a.variants.split(",")
    for v in variants:
        if v.rpartition(":")[2] not in VARIANTS:
            ap.error(f"unknown variant {v!r}")
    runs: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="turnout-ab-") as td:
        tmp = Path(td)
        keys = {"limited": run.gateway_key(tmp), "master": run.MASTER_KEY}
        if any(VARIANTS[v.rpartition(":")[2]][1] == "unlimited" for v in variants):
            keys["unlimited"] = unlimited_key(tmp)
        mock = run.start_mock(tmp)
        try:
            for r in range(a.rounds):
                for v in variants:
                    us, detail = measure(tmp, v, keys, a)
                    runs[v].append(us)
                    unit = "ms" if a.c1 else "µs/req"
                    shown = f"{us:.3f}" if a.c1 else f"{us:.1f}"
                    print(f"round {r + 1} {v}: {shown} {unit} ({detail})", flush=True)
        finally:
            cand.stop(mock)
    what = f"CPU µs per {'request' if a.mode == 'ns' else '20-chunk stream'} (c={a.conns})"
    if a.c1:
        what = f"c=1 non-stream p99 ms ({a.c1} requests)"
    print(f"\n{what}, by round:")
    for v, xs in runs.items():
        digits = 3 if a.c1 else 1
        print(f"  {v:32s} lowest {min(xs):7.{digits}f}  " + " ".join(f"{x:.{digits}f}" for x in xs))


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()

"""Where the gateway's CPU goes under the benchmark's load: py-spy on one gateway target.

Starts the mock provider and one gateway target exactly as ``bench/run.py`` does (defaults +
master key + a gateway key with an RPM limit, or ``--target turnout-quiet``), drives wrk at
c=64 for ``--seconds`` while ``py-spy record`` samples the gateway (``--native``: C frames too),
then prints the functions with the most samples, by own time and by inclusive time, and
writes the collapsed stacks (``--out``) for a flame graph (speedscope, inferno).

    uv run --group bench python bench/profile.py                    # non-stream, defaults
    uv run --group bench python bench/profile.py --mode st --target turnout-translate
    uv run --group bench python bench/profile.py --calls 2000       # Python calls per request
    uv run --group bench python bench/profile.py --strace           # system calls per request

py-spy's and strace's figures depend on the machine's load; ``--calls`` does not.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
assert _spec is not None and _spec.loader is not None
run: Any = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = run
_spec.loader.exec_module(run)
cand = run.cand


def summarise(collapsed: Path, top: int) -> str:
    """Own and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1] if " (" in f else f
            for f in stack.split(";")
        ]
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples", "", "own time:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive time:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(out)


def count_calls(a: argparse.Namespace) -> None:
    """Exact Python call counts per request: the gateway under cProfile, once with ``--calls``
    sequential requests and once with none (start-up and shutdown), the difference divided by
    the requests. Deterministic, so it tells a change's effect whatever the machine's load."""
    import pstats

    body = cand.BODY if a.mode == "ns" else cand.BODY_STREAM
    with tempfile.TemporaryDirectory(prefix="turnout-calls-") as td:
        tmp = Path(td)
        key = run.gateway_key(tmp) if a.auth == "key" else run.MASTER_KEY
        cand.EXTRA_HEADERS = f"Authorization: Bearer {key}\r\n"
        mock = run.start_mock(tmp)
        stats: list[dict[str, tuple[int, float]]] = []
        try:
            for n in (0, a.calls):
                out = tmp / f"calls-{n}.prof"
                cmd = run.target_cmd(a.target, tmp)
                assert cmd is not None
                cmd = [cmd[0], str(HERE / "cpu_profile.py"), str(out), *cmd[1:]]
                proc = run.start_in(tmp, cmd, tmp / "gw.log", master=a.target != "turnout-quiet")
                try:
                    cand.wait_port(run.PROXY_PORT, 120)
                    if n:
                        import uvloop

                        uvloop.run(_sequential(run.PROXY_PORT, cand._req(body), n))
                finally:
                    proc.send_signal(2)
                    proc.wait(60)
                if n and a.keep:
                    shutil.copy(out, a.keep)
                table: dict[str, tuple[int, float]] = {}
                for (file, line, fn), row in pstats.Stats(str(out)).stats.items():  # type: ignore[attr-defined]
                    name = f"{fn} ({Path(file).name}:{line})"
                    if a.by_file:
                        name = _module(file, fn)
                    c0, t0 = table.get(name, (0, 0.0))
                    table[name] = (c0 + row[1], t0 + row[2])
                stats.append(table)
        finally:
            cand.stop(mock)
    base, loaded = stats
    per = {
        k: ((c - base.get(k, (0, 0.0))[0]) / a.calls, (t - base.get(k, (0, 0.0))[1]) / a.calls)
        for k, (c, t) in loaded.items()
    }
    total = sum(c for c, _ in per.values())
    print(f"{a.target} {a.mode}: {total:.0f} Python calls per request ({a.calls} requests)")
    if a.by_file:
        # The main thread's CPU time under cProfile (bench/cpu_profile.py; its per-call overhead
        # inflates call-heavy code): where the gateway's work sits, module by module, not what
        # each part costs without a profiler.
        spent = sum(t for _, t in per.values())
        print(f"  {spent * 1e6:.0f} µs main-thread CPU per request under cProfile, by module:")
        for k, (c, t) in sorted(per.items(), key=lambda kv: -kv[1][1])[: a.top]:
            if t * 1e6 >= 0.2:
                print(f"  {t * 1e6:7.1f} µs {100 * t / spent:5.1f}%  {c:6.1f} calls  {k}")
        return
    for k, (c, _) in sorted(per.items(), key=lambda kv: -kv[1][0])[: a.top]:
        if c >= 0.5:
            print(f"  {c:6.1f}  {k}")


def _module(file: str, fn: str) -> str:
    """A profile row's module: the package path after site-packages or src, or the builtin."""
    if file == "~":
        return f"builtin {fn.split(' of ')[0].removeprefix('<').strip()}"
    parts = Path(file).parts
    for anchor in ("site-packages", "src", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor) :]
            break
    return "/".join(parts)


async def _sequential(port: int, raw: bytes, n: int) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    _, p = await loop.create_connection(cand._C1, "127.0.0.1", port)
    for _ in range(n):
        p.body = []
        p.fut = loop.create_future()
        p.t.write(raw)
        await p.fut
    p.t.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--target",
        default="turnout",
        choices=["turnout", "turnout-quiet", "turnout-translate", "turnout-plugins"],
    )
    ap.add_argument("--mode", default="ns", choices=["ns", "st"])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=499, help="py-spy samples per second")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--calls", type=int, default=0, help="count Python calls over N requests")
    ap.add_argument(
        "--auth",
        choices=("key", "master"),
        default="key",
        help="present the gateway key (an RPM limit) or the master key",
    )
    ap.add_argument("--keep", type=Path, help="with --calls: keep the loaded run's profile")
    ap.add_argument("--by-file", action="store_true", help="with --calls: own time by module")
    ap.add_argument("--strace", action="store_true", help="count system calls instead")
    ap.add_argument("--native", action="store_true", help="C frames too (pauses the process)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "profile.txt")
    a = ap.parse_args()
    if a.calls:
        count_calls(a)
        return
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        sys.exit("py-spy is needed: pip install py-spy")
    os.sched_setaffinity(0, {int(run.LOAD_CORE)})
    with tempfile.TemporaryDirectory(prefix="turnout-profile-") as td:
        tmp = Path(td)
        key = run.gateway_key(tmp) if a.auth == "key" else run.MASTER_KEY
        lua = cand.lua_script(tmp / "load.lua", a.mode, key)
        mock = run.start_mock(tmp)
        cmd = run.target_cmd(a.target, tmp)
        proc = run.start_in(tmp, cmd, tmp / "gateway.log", master=a.target != "turnout-quiet")
        try:
            cand.wait_port(run.PROXY_PORT, 60)
            cand.wrk(run.PROXY_PORT, lua, 64, 2)  # warm up
            a.out.parent.mkdir(parents=True, exist_ok=True)
            # --native pauses the process for each sample (slower, but shows C frames)
            how = ["--native"] if a.native else ["--nonblocking"]
            spy = subprocess.Popen(
                ["strace", "-c", "-f", "-p", str(proc.pid), "-o", str(a.out)]
                if a.strace
                else [
                    pyspy,
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--rate",
                    str(a.rate),
                    *how,
                    "--format",
                    "raw",
                    "--output",
                    str(a.out),
                    "--duration",
                    str(a.seconds + 1),
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # py-spy attaches
            c0 = cand.cpu_seconds(proc.pid)
            w = cand.wrk(run.PROXY_PORT, lua, 64, a.seconds)
            used = cand.cpu_seconds(proc.pid) - c0
            if a.strace:
                spy.send_signal(2)
            spy.wait()
        finally:
            cand.stop(proc)
            cand.stop(mock)
    print(
        f"{a.target} {a.mode}: {w['rps']:,.0f} req/s, "
        f"{used / max(1, w['requests']) * 1e6:.0f} µs CPU per request (with py-spy attached)"
    )
    if a.strace:
        print(f"{w['requests']:,} requests")
        print(a.out.read_text())
        return
    print(summarise(a.out, a.top))
    print(f"\ncollapsed stacks: {a.out}")


if __name__ == "__main__":
    main()

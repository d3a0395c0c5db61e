"""Instructions per request of gateway variants, counted by valgrind's callgrind: an A/B that
the machine's noise cannot move.

``bench/ab.py`` reads CPU time, which on a shared VM moves by 10-30 µs per request between
runs of the same code, so a change worth a few µs cannot be told from the noise. Callgrind
counts the instructions the gateway's process executes (all its threads: the event loop's
and SQLite's), which depends on the code and the load, not on what else the machine does::

    uv run --group bench python bench/instructions.py ../base:defaults,.:defaults
    uv run --group bench python bench/instructions.py defaults,master --mode st -n 2000

Each variant (``[TREE:]NAME`` as in ``bench/ab.py``) starts under valgrind with the
instrumentation off (start-up runs several times faster so), is warmed with ``--warm``
requests, then counts ``-n`` requests driven over ``--conns`` keep-alive connections, each
sending its next request when its answer has arrived. Under valgrind the gateway runs some
50 times slower, so what the gateway does per unit of time (its 50 ms tick, timers) weighs
more per request than at full speed: compare variants measured by the same command, not the
figure with ``bench/ab.py``'s µs. Two runs of one variant agree to about 1% (see
docs/measurements.md); ``--rounds`` repeats them alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import ab  # bench/*.py: run as a script, bench/ is on the path
import run

cand = run.cand
STARTUP = 600.0  # seconds for a gateway under valgrind to listen (imports run instrumented off)


async def _drive(port: int, body: bytes, n: int, conns: int, header: str) -> None:
    """``n`` requests over ``conns`` connections, each waiting for its answer."""
    loop = asyncio.get_running_loop()
    cand.EXTRA_HEADERS = header
    raw = cand._req(body)
    left = [n]

    async def one() -> None:
        _, p = await loop.create_connection(cand._C1, "127.0.0.1", port)
        try:
            while left[0] > 0:
                left[0] -= 1
                p.body = []
                p.fut = loop.create_future()
                p.t.write(raw)
                await p.fut
                if p.parser.get_status_code() != 200:  # a refusal costs less: no figure then
                    raise SystemExit(f"the gateway answered {p.parser.get_status_code()}")
        finally:
            p.t.close()

    await asyncio.gather(*(one() for _ in range(min(conns, n))))


def drive(port: int, mode: str, n: int, conns: int, key: str) -> None:
    body = cand.BODY if mode == "ns" else cand.BODY_STREAM
    asyncio.run(_drive(port, body, n, conns, f"Authorization: Bearer {key}\r\n"))


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


def _counts(out: Path, pid: int) -> tuple[int, int]:
    """(all threads, the event loop's thread) in callgrind's first requested dump of ``pid``:
    one file per thread (``<out>.<pid>.1-NN``, thread 01 the main one), from the counters'
    zeroing to the dump."""
    total = main = 0
    for part in sorted(out.parent.glob(f"{out.name}.{pid}.1-*")):
        m = re.search(r"^(?:totals|summary): (\d+)", part.read_text(errors="replace"), re.M)
        if m is None:
            raise SystemExit(f"no totals in callgrind's dump {part}")
        total += int(m.group(1))
        if part.name.endswith("-01"):
            main = int(m.group(1))
    if not total:
        raise SystemExit(f"no callgrind dump {out}.{pid}.1-*")
    return total, main


def measure(
    tmp: Path, variant: str, keys: dict[str, str], a: argparse.Namespace
) -> tuple[float, float]:
    """(instructions per request of all threads, of the event loop's thread)."""
    tree, _, name = variant.rpartition(":")
    changes, presented = ab.VARIANTS[name]
    py = str(Path(tree).resolve() / ".venv" / "bin" / "python") if tree else run.PY
    label = variant.replace("/", "_").replace(":", "-").replace(".", "_")
    cfg = ab.config(tmp, label, changes)
    out = tmp / f"cg-{label}"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",  # the loop's thread alone is steadier than the sum
        f"--callgrind-out-file={out}.%p",
        py,
        "-m",
        "turnout.cli.main",
        "serve",
        "-c",
        str(cfg),
        "--port",
        str(run.PROXY_PORT),
    ]
    cand.wait_port_free(run.PROXY_PORT)
    proc = run.start_in(tmp, cmd, tmp / f"cg-{label}.log", cores="0-1")
    try:
        cand.wait_port(run.PROXY_PORT, STARTUP)
        _control("--instr=on", str(proc.pid))
        drive(run.PROXY_PORT, a.mode, a.warm, a.conns, keys[presented])
        time.sleep(0.5)  # let the warm-up's drain run before the counters start
        _control("--zero", str(proc.pid))
        drive(run.PROXY_PORT, a.mode, a.n, a.conns, keys[presented])
        time.sleep(0.5)  # the last calls' drain belongs to them
        _control("--dump", str(proc.pid))
        pid = proc.pid
    finally:
        cand.stop(proc)
    if a.save is not None:
        a.save.mkdir(parents=True, exist_ok=True)
        for part in out.parent.glob(f"{out.name}.{pid}.1-*"):
            thread = part.name.rsplit("-", 1)[1]
            shutil.copy(part, a.save / f"{label}-{a.mode}-{pid}-t{thread}.callgrind")
    total, main = _counts(out, pid)
    return total / a.n, main / a.n


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ", ".join(ab.VARIANTS)
    ap.add_argument("variants", help=f"comma-separated [TREE:]NAME, NAME one of: {names}")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("-n", type=int, default=2000, help="requests counted per variant")
    ap.add_argument("--warm", type=int, default=300, help="requests before the count")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--mode", choices=("ns", "st"), default="ns")
    ap.add_argument(
        "--save", type=Path, help="keep callgrind's dumps here (for callgrind_annotate)"
    )
    a = ap.parse_args()
    variants = a.variants.split(",")
    for v in variants:
        if v.rpartition(":")[2] not in ab.VARIANTS:
            ap.error(f"unknown variant {v!r}")
    # Ports of its own: it runs beside other work, another count's included (fixed ports let
    # one run's driver reach the other's gateway).
    run.UP_PORT = cand.UP_PORT = _free_port()
    run.PROXY_PORT = cand.PROXY_PORT = _free_port()
    runs: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="turnout-cg-") as td:
        tmp = Path(td)
        keys = {"limited": run.gateway_key(tmp), "master": run.MASTER_KEY}
        if any(ab.VARIANTS[v.rpartition(":")[2]][1] == "unlimited" for v in variants):
            keys["unlimited"] = ab.unlimited_key(tmp)
        mock = run.start_mock(tmp)
        try:
            for r in range(a.rounds):
                for v in variants:
                    per, main = measure(tmp, v, keys, a)
                    runs[v].append((per, main))
                    print(
                        f"round {r + 1} {v}: {per / 1e3:,.1f} k instructions per request"
                        f" ({main / 1e3:,.1f} k on the event loop's thread)",
                        flush=True,
                    )
        finally:
            cand.stop(mock)
    unit = "request" if a.mode == "ns" else "20-chunk stream"
    print(f"\nthousands of instructions per {unit} (c={a.conns}, {a.n} counted), by round:")
    for which, col in (("all threads", 0), ("the event loop's thread", 1)):
        print(f" {which}:")
        base = min(x[col] for x in runs[variants[0]])
        for v, xs in runs.items():
            low = min(x[col] for x in xs)
            rel = f"{(low / base - 1) * 100:+.1f}%" if v != variants[0] else ""
            shown = " ".join(f"{x[col] / 1e3:,.1f}" for x in xs)
            print(f"  {v:32s} {shown}  {rel}")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()

"""What a gateway's start costs: CPU from exec to its first ``/healthz`` answer, in a fresh
directory (a new SQLite file), and the schema step alone, both ways.

Every test that starts a gateway pays the start, and so does every replica a scheduler
restarts; the suite starts gateways by the hundred. CPU seconds are read from
``/proc/<pid>/stat`` when the gateway first answers, so the readiness poll's own wait is not
counted; they depend on the machine's load less than wall time, but a busy machine still
adds cache misses: compare figures from one run.

    uv run --group bench python bench/startup.py            # 5 starts, then the schema step
    uv run --group bench python bench/startup.py --starts 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CONFIG = """providers:
  upstream:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_keys: [unused]
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_start() -> float:
    """CPU seconds of one gateway, from exec to its first answer, in a new directory."""
    where = Path(tempfile.mkdtemp(prefix="turnout-start-"))
    (where / "turnout.yaml").write_text(CONFIG)
    port = _free_port()
    args = [sys.executable, "-m", "turnout.cli.main", "serve", "-c", "turnout.yaml"]
    proc = subprocess.Popen(
        [*args, "--port", str(port)],
        cwd=where,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code < 500:
                    return _cpu_seconds(proc.pid)
            except httpx.HTTPError:
                time.sleep(0.02)
        raise SystemExit("the gateway did not answer within 60 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def schema_step(by_scripts: bool) -> float:
    """CPU seconds to bring a new SQLite file to the head: the scripts one by one, or the
    one step a new file takes (``storage/sql/fresh.py``). Run in a fresh interpreter each, so
    that imports are counted."""
    from turnout.storage.sql.engine import _upgrade, make_engine, migrate

    engine = make_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/schema.db")
    start = _cpu()
    if by_scripts:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, "head")
    else:
        await migrate(engine)
    spent = _cpu() - start
    await engine.dispose()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--schema", choices=["scripts", "fresh"], help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.schema:
        print(asyncio.run(schema_step(opts.schema == "scripts")))
        return
    starts = [one_start() for _ in range(opts.starts)]
    print(
        f"gateway start, exec to first answer: median {statistics.median(starts):.2f} s CPU "
        f"(min {min(starts):.2f}, max {max(starts):.2f}, {len(starts)} starts)"
    )
    for way in ("scripts", "fresh"):
        runs = [
            float(
                subprocess.run(
                    [sys.executable, __file__, "--schema", way],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()[-1]
            )
            for _ in range(3)
        ]
        print(f"new SQLite file to the head, {way}: median {statistics.median(runs):.3f} s CPU")


if __name__ == "__main__":
    main()

"""CPU per admission of the Redis limiter (redis-py + hiredis), in the gateway's process.

Starts a private ``redis-server`` on a free port (never the shared one), then admits calls
through :class:`turnout.limits.redis.RedisLimiter` with 64 in flight (a busy gateway) and one
at a time, on uvloop, and reports this process's CPU time per admission (``process_time``,
the steady figure on a shared machine) and the calls per second. Rounds repeat; the report
gives the median and the spread.

    uv run python bench/limits_redis_bench.py [--calls 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import uvloop

from turnout.limits.plan import Plan, Rule, Ticket
from turnout.limits.redis import RedisLimiter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run(url: str, calls: int, inflight: int) -> tuple[float, float]:
    limiter = RedisLimiter(url, prefix="bench:", timeout=2)
    plan = Plan((Rule("k:bench", "key bench", rpm=10**9, tpm=10**12, tag="k:bench"),))
    for _ in range(200):  # connect, load the script, warm the pool
        await limiter.admit(Ticket(plan, tokens=10))
    sem = asyncio.Semaphore(inflight)

    async def one() -> None:
        async with sem:
            verdict = await limiter.admit(Ticket(plan, tokens=10))
            assert verdict.ok and limiter.available

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await limiter.close()
    return cpu / calls * 1e6, calls / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            for inflight in (64, 1):
                n = a.calls if inflight > 1 else a.calls // 4
                results = [uvloop.run(run(url, n, inflight)) for _ in range(a.rounds)]
                cpu = [r[0] for r in results]
                rate = [r[1] for r in results]
                print(
                    f"{inflight:>3} in flight: CPU {statistics.median(cpu):.1f} µs/admission "
                    f"({min(cpu):.1f}-{max(cpu):.1f}), {statistics.median(rate):,.0f} admissions/s "
                    f"({min(rate):,.0f}-{max(rate):,.0f}), {a.rounds} rounds x {n}"
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

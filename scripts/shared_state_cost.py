"""What each Redis round trip of the shared routing state adds to a request, in µs per call.

The request path makes at most these calls, each only where it applies (docs/routing.md,
"State across replicas"): a concurrency slot taken and given back, the rpm/tpm gate, a
sticky client's first-pin claim and a half-open trial lease. This script times each the way
the router makes it (the same objects, one call at a time, awaited) against a Redis (the
local one by default), under a throwaway key prefix that it deletes afterwards, and prints the
median and 90th percentile per call.

    uv run python scripts/shared_state_cost.py [--url redis://127.0.0.1:6379/0] [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from turnout.health.breaker import EJECTED, BreakerPolicy, Journal
from turnout.health.targets import DeploymentHealth, KeyPool
from turnout.shared.gate import SharedGate
from turnout.shared.pins import PinClaims
from turnout.shared.redis import RedisStateBackend
from turnout.shared.slots import SharedSlots
from turnout.shared.trials import SharedTrials


async def _time(n: int, step: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    for i in range(min(200, n)):  # warm the connection and the script cache
        await step(-1 - i)
    samples = []
    for i in range(n):
        t = time.perf_counter_ns()
        await step(i)
        samples.append((time.perf_counter_ns() - t) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


async def main(url: str, n: int) -> None:
    prefix = f"turnout-bench:{uuid.uuid4().hex[:8]}:"
    backend = RedisStateBackend(url, prefix, 1.0)
    health = DeploymentHealth(
        "p", "m", KeyPool(()), BreakerPolicy(), Journal(), max_concurrent=10**9, rpm=10**9
    )
    slots = SharedSlots(backend, health, "bench", 1.0, 15.0)
    gate = SharedGate(backend, health, 1.0)
    claims = PinClaims(backend, 1.0)
    trials = SharedTrials(backend, "bench", 1.0, 15.0, 1.0)
    now = time.monotonic()

    async def slot(i: int) -> None:
        await slots.acquire(health, now)
        slots.release()  # the ZREM runs in the background, as after a real call

    async def trial(i: int) -> None:
        health.state, health.until = EJECTED, 0.0
        await trials.take(health, now)
        health.trial = False

    rows = [
        ("max_concurrent slot (take; give back in background)", slot),
        ("rpm/tpm gate", lambda i: gate.admit(health, 10)),
        ("sticky first-pin claim (new client)", lambda i: claims.claim("m", f"c{i}", "p/m", 60)),
        ("half-open trial lease", trial),
    ]
    try:
        print(f"{'Redis round trip':<55} {'median µs':>10} {'p90 µs':>8}")
        for name, step in rows:
            median, p90 = await _time(n, step)
            print(f"{name:<55} {median:>10.0f} {p90:>8.0f}")
    finally:
        keys = [k async for k in backend.client.scan_iter(match=prefix + "*")]
        if keys:
            await backend.client.delete(*keys)
        await backend.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.n))

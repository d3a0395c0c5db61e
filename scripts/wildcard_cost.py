"""What a ``model: "*"`` deployment's per-model health costs the router, per call.

In process, an instant scripted provider (no network), CPU time of the thread: the same router
a gateway builds, three routes of one deployment and one key each: a named model (``fixed``,
which must not pay for wildcards at all), a wildcard asked for one model name over and over
(a view-table hit), and a wildcard asked for 500 names in turn with ``wildcard_models: 100``
(every call a miss: a new record, key pool and view, and one evicted). Best of ``--rounds``
rounds of ``--calls``, the cases interleaved.

    uv run python scripts/wildcard_cost.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def per_call(router: object, calls: list[object]) -> float:
    """CPU seconds of this thread per call (a shared machine's waits for a core excluded)."""
    started = time.thread_time()
    for c in calls:
        await router(c)  # type: ignore[operator]
    return (time.thread_time() - started) / len(calls) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from tests.unit.routing.helpers import call, ok, providers, runtime

    from turnout.routing.router import Router

    raw = {
        "providers": {"a": {"type": "openai-compatible", "base_url": "http://a.invalid/v1",
                            "api_keys": ["sk-a-key-0"]}},
        "routing": {"wildcard_models": 100},
        "models": {
            "fixed": {"deployments": [{"provider": "a", "model": "x"}]},
            "w-*": {"deployments": [{"provider": "a", "model": "*"}]},
        },
    }  # fmt: skip
    rt = runtime(raw)
    router = Router(rt, providers(rt, {"a": lambda d, k, c: ok()}, []))
    n = args.calls
    cases = {
        "named model": [call("fixed") for _ in range(n)],
        "wildcard, one model name": [call("w-one") for _ in range(n)],
        "wildcard, 500 names over a bound of 100": [call(f"w-{i % 500}") for i in range(n)],
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.rounds):  # interleaved: a burst of load elsewhere hits every case
        for name, calls in cases.items():
            best[name] = min(best[name], asyncio.run(per_call(router, calls)))
    for name, us in best.items():
        print(f"{name:45} {us:6.2f} µs per call")


if __name__ == "__main__":
    main()

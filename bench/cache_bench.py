"""Cache hit vs miss, measured in one run against real processes.

Starts the mock provider with a 20 ms time to first token and a gateway caching one model in
memory (or on Redis with ``--backend redis``), then times sequential requests from one
keep-alive client: misses (a new question each time) and hits (one question asked again), in
JSON and stream form, plus a model without caching (what a miss costs over no cache at all).
Prints p50/p90 of each and the miss/hit ratio; the targets are a ratio of at least 5 and a hit
p50 under 2 ms.

    uv run python bench/cache_bench.py [--requests 300] [--ttft-ms 20] [--backend memory|redis]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.procs import mock_provider, start_gateway, start_mock


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(client: httpx.Client, body: bytes, stream: bool) -> tuple[float, str]:
    started = time.perf_counter()
    if stream:
        with client.stream("POST", "/v1/chat/completions", content=body) as r:
            for _ in r.iter_bytes():
                pass
    else:
        r = client.post("/v1/chat/completions", content=body)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"request failed: {r.status_code} {r.read()[:200]!r}")
    return elapsed, r.headers.get("x-turnout-cache", "")


def body(question: str, stream: bool, model: str = "cached") -> bytes:
    return orjson.dumps(
        {"model": model, "stream": stream, "messages": [{"role": "user", "content": question}]}
    )


def run(requests: int, ttft_ms: float, backend: str) -> int:
    mock = start_mock("--ttft-ms", str(ttft_ms))
    cache: dict[str, object] = {"backend": backend}
    if backend == "redis":
        cache["key_prefix"] = f"turnout-bench:{uuid.uuid4().hex[:8]}:"
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "cached": {"deployments": [{"provider": "mock", "model": "up"}], "cache": True},
            "plain": {"deployments": [{"provider": "mock", "model": "up"}]},
        },
        "cache": cache,
        "logging": {"requests": False},
    }
    gw = start_gateway(config, Path(tempfile.mkdtemp(prefix="cache-bench-")))
    ok = True
    try:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=gw.url, headers=headers, timeout=30) as client:
            print(f"backend={backend} ttft={ttft_ms:g}ms requests={requests} per case")
            print(f"{'case':<16}{'p50 ms':>10}{'p90 ms':>10}")
            for stream in (False, True):
                form = "stream" if stream else "json"
                for _ in range(20):  # warm up connections and code paths
                    timed(client, body(uuid.uuid4().hex, stream), stream)
                misses, plain = [], []
                for _ in range(requests):  # interleaved, so both see the same machine load
                    elapsed, state = timed(client, body(uuid.uuid4().hex, stream), stream)
                    assert state == "miss", state
                    misses.append(elapsed)
                    elapsed, _ = timed(client, body(uuid.uuid4().hex, stream, "plain"), stream)
                    plain.append(elapsed)
                hot = body(uuid.uuid4().hex, stream)
                timed(client, hot, stream)
                time.sleep(0.05)  # stored by the background worker
                hits = []
                for _ in range(requests):
                    elapsed, state = timed(client, hot, stream)
                    assert state == "hit", state
                    hits.append(elapsed)
                miss50, hit50 = statistics.median(misses), statistics.median(hits)
                for name, values in (
                    (f"uncached {form}", plain),
                    (f"miss {form}", misses),
                    (f"hit {form}", hits),
                ):
                    p50 = statistics.median(values) * 1000
                    print(f"{name:<16}{p50:>10.3f}{percentile(values, 0.9) * 1000:>10.3f}")
                ratio = miss50 / hit50
                verdict = "ok" if ratio >= 5 and hit50 < 0.002 else "BELOW TARGET"
                print(
                    f"{form}: hit is {ratio:.1f}x faster than miss (target >= 5x), "
                    f"hit p50 {hit50 * 1000:.3f} ms (target < 2 ms): {verdict}"
                )
                ok = ok and verdict == "ok"
            if backend == "redis":
                client.delete("/admin/cache")
    finally:
        gw.stop()
        mock.stop()
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--backend", choices=("memory", "redis"), default="memory")
    args = parser.parse_args()
    return run(args.requests, args.ttft_ms, args.backend)


if __name__ == "__main__":
    raise SystemExit(main())

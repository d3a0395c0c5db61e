"""``turnout-2w`` of ``bench/run.py``: does ``serve --workers 2`` serve ≥ 1.8 times one worker?

The honest test needs two cores for the gateway and more for the load; this machine class has
two in all. So the two workers run on cores 0 and 1 (``taskset -c 0,1``) while wrk, the mock
and the driver stay on core 1, competing with the second worker: the raw req/s of
``turnout-2w`` against ``turnout`` (one worker alone on core 0) says little, as the load
generator takes a share of the second core that the gateway would have on a real host.

The steadier figure is the capacity: CPU time per request of the gateway's whole process tree
(supervisor and workers), measured under the same wrk load. One worker saturating one core
serves 1e6 / cpu₁ requests a second; two workers saturating two cores, 2 · 1e6 / cpu₂. Their
ratio, 2 · cpu₁ / cpu₂, is what ``--workers 2`` gives on two free cores, assuming the cores
scale (each worker has its own event loop, upstream pool and request-log writer; they share
the SQLite file, which each batched write locks briefly). It is conservative: each of two
workers sees half the load, so fewer requests share an event-loop turn, which costs a little
more CPU per request than one worker kept busy. The raw req/s and the cores the gateway used
are printed next to it.
"""

from __future__ import annotations

from typing import Any

TARGET = "turnout-2w"
WORKERS = 2
CORES = "0,1"  # both: the load generator competes on core 1 (see above)


def command(cmd: list[str]) -> list[str]:
    """The one-worker target's command with ``--workers 2``."""
    return [*cmd, "--workers", str(WORKERS)]


def verdicts(results: dict[str, dict[str, Any]]) -> list[tuple[bool, str]]:
    """Capacity of two workers over one (``turnout`` in the same run), non-stream and stream,
    against the issue's ≥ 1.8 times."""
    one, two = results.get("turnout"), results.get(TARGET)
    if one is None or two is None:
        return []
    out = []
    for mode, label in (("ns", "non-stream"), ("st", "20-chunk stream")):
        w1, w2 = one[f"{mode}_c64"], two[f"{mode}_c64"]
        cpu1, cpu2 = w1.get("cpu_us_per_req", 0.0), w2.get("cpu_us_per_req", 0.0)
        if not cpu1 or not cpu2:
            continue
        ratio = WORKERS * cpu1 / cpu2
        cores = cpu2 * w2["rps"] / 1e6
        raw = w2["rps"] / max(w1["rps"], 1e-9)
        out.append(
            (
                ratio >= 1.8,
                f"{TARGET}: {label} capacity {ratio:.2f} times one worker ({WORKERS} * "
                f"{cpu1:.0f} / {cpu2:.0f} µs per request; target ≥ 1.8) — raw c=64 "
                f"{w2['rps']:,.0f} vs {w1['rps']:,.0f} req/s ({raw:.2f} times) with the gateway "
                f"on {cores:.2f} of 2 cores, the load generator on core 1 too",
            )
        )
    return out

"""The memory of a gateway process: fewer malloc arenas, the start-up's garbage handed back,
and a cyclic garbage collector that stays out of the request path.

glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core). The
gateway's threads (the SQLite connections' threads, the default executor, the config watcher)
allocate little, but each arena keeps its freed pages: ~3-4 MB of resident memory under load
for nothing (docs/measurements.md#memory). Two arenas serve them as well. And the start-up
frees a great deal (import-time garbage, migrations, the first config's copies) that glibc
keeps in the heap: :func:`trim` gives it back once the gateway is ready (~2 MB).

Only glibc has these calls; elsewhere (musl, macOS, Windows) both are no-ops. A
``MALLOC_ARENA_MAX`` in the environment is the operator's choice and is left alone.

Python's cyclic GC runs a young-generation collection whenever container allocations outrun
deallocations by 700. A proxied call frees what it allocates by reference counting (it leaves
no cycles), but with tens of calls in flight the allocation counter drifts upward and crossed
700 about once per 30 calls: ~1,100 young collections per 40k calls, 8-11 µs of CPU per call
and pauses of 0.3-1.5 ms (young and middle generations) that showed in the p99, each finding
nothing to collect. The drift seldom reaches :data:`YOUNG` (2 collections per 40k calls);
a collection then scans more objects, but they are rare (docs/measurements.md#memory).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import sys
import time
from collections.abc import Callable, Mapping
from functools import cache

ARENAS = 2
TRIM_EVERY = 60.0  # seconds between hand-backs of the heap's free pages while serving
YOUNG = 10_000  # the young generation's threshold (CPython's default: 700)
_M_ARENA_MAX = -8  # glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024  # glibc's initial mmap and trim thresholds
_THRESHOLD_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # not find_library: it may run ldconfig or gcc
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None  # not glibc
    return libc


def limit_arenas(environ: Mapping[str, str] | None = None) -> bool:
    """At most :data:`ARENAS` malloc arenas from now on, and fixed mmap and trim thresholds
    (:func:`fix_thresholds`); call before threads start. Whether the arena limit was set."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    libc = _libc()
    if libc is None:
        return False
    fix_thresholds(env)
    if "MALLOC_ARENA_MAX" in env:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, ARENAS))


def fix_thresholds(env: Mapping[str, str]) -> bool:
    """Keep glibc's mmap and trim thresholds at :data:`THRESHOLD` (their initial values).

    glibc raises both after a large block is freed (the mmap threshold up to 32 MB, the trim
    threshold to twice it): from then on, blocks of a few hundred kilobytes come from the heap
    and its free top is never handed back. Fixed, they stay where they start: peak RSS after
    the benchmark's stream load 88.5-89.0 against 89.5-89.8 MB (docs/measurements.md#memory).
    An operator's own ``MALLOC_*_THRESHOLD_`` or ``GLIBC_TUNABLES`` is left alone."""
    libc = _libc()
    if libc is None or "GLIBC_TUNABLES" in env or any(k in env for k in _THRESHOLD_ENV):
        return False
    mmap = libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD)
    trim = libc.mallopt(_M_TRIM_THRESHOLD, THRESHOLD)
    return bool(mmap and trim)


def trim() -> bool:
    """Return the heap's free pages to the system (``malloc_trim(0)``): after start-up, then
    every :data:`TRIM_EVERY` seconds (:func:`keep_trimmed`)."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


async def keep_trimmed(
    every: float = TRIM_EVERY, on_trim: Callable[[float], None] | None = None
) -> None:
    """Hand the heap's free pages back now and then while serving.

    A load's peaks (the request log's queue under a burst, a large answer, a backlog written
    in one call) leave freed memory that glibc keeps in its heaps: the resident size then
    stays at the highest peak so far and creeps up with each new one, though nothing is kept
    alive (docs/measurements.md, "What a call leaves behind"). One ``malloc_trim`` a minute
    takes well under a millisecond and makes the resident size follow what is in use, so a
    container's memory limit and the soak's flatness read the live memory, not the past
    peaks. ``on_trim`` gets each trim's duration (seconds)."""
    if _libc() is None:
        return
    while True:
        await asyncio.sleep(every)
        began = time.perf_counter()
        trim()
        if on_trim is not None:
            on_trim(time.perf_counter() - began)


def settle() -> None:
    """Once the gateway is ready: collect the start-up's cyclic garbage, freeze what is left
    (it lives as long as the process, so full collections need not scan it again), raise the
    young generation's threshold and give the heap's free pages back."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
    trim()

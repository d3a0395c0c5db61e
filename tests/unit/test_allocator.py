"""The allocator's two calls: glibc only, the operator's MALLOC_ARENA_MAX left alone."""

from __future__ import annotations

import sys

import pytest

from turnout import allocator

glibc = pytest.mark.skipif(allocator._libc() is None, reason="glibc only")


def test_an_operators_arena_limit_is_left_alone() -> None:
    assert allocator.limit_arenas({"MALLOC_ARENA_MAX": "8"}) is False


@glibc
def test_on_glibc_the_arenas_are_limited_and_the_heap_trimmed() -> None:
    assert allocator.limit_arenas({}) is True
    allocator.trim()  # 1 if memory went back, 0 if there was none to give: both fine


def test_elsewhere_both_are_no_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    allocator._libc.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert allocator.limit_arenas({}) is False
        assert allocator.trim() is False
    finally:
        monkeypatch.undo()
        allocator._libc.cache_clear()


@glibc
def test_the_malloc_thresholds_are_fixed_unless_the_operator_set_them() -> None:
    assert allocator.fix_thresholds({}) is True
    assert allocator.fix_thresholds({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    assert allocator.fix_thresholds({"MALLOC_MMAP_THRESHOLD_": "65536"}) is False


# A heap left full of holes: most of 150 MB of malloc'd blocks freed, every 50th kept, so the
# heap's top stays in use and only a trim hands the pages in between back.
_HOLES = """
import asyncio, sys
from turnout import allocator

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

allocator.fix_thresholds({})
blocks = [bytearray(1500) for _ in range(100_000)]
kept = blocks[::50]
del blocks
before = rss()
times = []

async def main():
    trimmed = asyncio.Event()
    def note(seconds):
        times.append(seconds)
        trimmed.set()
    task = asyncio.ensure_future(allocator.keep_trimmed(0.01, note))
    await asyncio.wait_for(trimmed.wait(), 60)
    task.cancel()

asyncio.run(main())
print(before, rss(), len(kept))
"""


@glibc
def test_the_heap_is_handed_back_while_serving() -> None:
    """Before, only the start-up's heap was trimmed: a load's peak stayed resident."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _HOLES], capture_output=True, text=True, timeout=120, check=True
    )
    before, after, _ = map(int, out.stdout.split())
    assert before - after > 50, out.stdout  # MB handed back

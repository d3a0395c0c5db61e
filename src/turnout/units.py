"""Durations as the request log writes them.

``round(seconds * 1000, 3)`` costs ~1,600 instructions on CPython 3.11: rounding a float to
decimal places goes through its decimal string and back. The request log rounds three
durations per call (the line's latency and time to first token, each attempt's time), so
the integer form below (0.1 against 0.47 µs in a loop) is what it uses; for the non-negative
durations it is given, it prints the same three decimals.
"""

from __future__ import annotations


def ms3(seconds: float) -> float:
    """``seconds`` in milliseconds, to the microsecond (half up)."""
    return int(seconds * 1_000_000 + 0.5) / 1000

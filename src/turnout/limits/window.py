"""A sliding one-minute window in one-second buckets, never over its limit.

Counts are kept per second; a check adds up the 61 buckets from ``now - 60 s`` (rounded down)
to now. That covers every request of the last 60 seconds plus up to one second more, so in no
60-second span can more than the limit be admitted (docs/reliability.md row 16 asks for exactly
that), at the price of refusing for at most one second longer than a perfect log would. Memory is 61
integers per limited scope whatever the rate, unlike a log of timestamps. The Redis script
(:mod:`turnout.limits.scripts`) keeps the same buckets in a hash, so both backends agree to
the request. A running total and the oldest live bucket make a check O(1): buckets are dropped
as they leave the window, each once.
"""

from __future__ import annotations

SPAN = 60  # seconds counted besides the current one


class Window:
    __slots__ = ("counts", "oldest", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.oldest = 0  # first bucket that may still count

    def expire(self, second: int) -> None:
        first = second - SPAN
        if self.oldest >= first:
            return
        if first - self.oldest > SPAN or not self.total:
            self.counts.clear()
            self.total = 0
        else:
            pop = self.counts.pop
            dropped = 0
            for i in range(self.oldest, first):
                dropped += pop(i, 0)
            self.total -= dropped
        self.oldest = first

    def add(self, second: int, amount: int) -> None:
        if amount:
            counts = self.counts
            counts[second] = counts.get(second, 0) + amount
            self.total += amount

    def adjust(self, second: int, delta: int) -> None:
        """Correct an earlier estimate counted in ``second``, if it still counts."""
        if delta and second >= self.oldest and second in self.counts:
            self.counts[second] += delta
            self.total += delta

    def wait(self, second: int, now: float, amount: int, limit: int) -> float:
        """Seconds until ``amount`` more fits under ``limit`` (the Retry-After)."""
        left = self.total
        get = self.counts.get
        for i in range(self.oldest, second + 1):
            left -= get(i, 0)
            if left <= 0 or left + amount <= limit:
                return max(0.001, i + SPAN + 1 - now)
        return max(0.001, second + SPAN + 1 - now)


def admits(total: int, amount: int, limit: int) -> bool:
    """An empty window admits any one call (an estimate above the limit must not lock a key
    out forever); otherwise the call must fit."""
    return total <= 0 or total + amount <= limit

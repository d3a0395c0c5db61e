"""Per-deployment upstream limits (requests or tokens per minute), enforced before sending.

The point is to spread load *before* a provider answers 429: a deployment at its limit is
skipped like a cooling one. A sliding window is approximated from two fixed one-minute
windows (the previous one weighted by how much of it still overlaps), which costs two
integers and no per-request allocation, and is exact enough for admission control.
"""

from __future__ import annotations

WINDOW = 60.0


class RateWindow:
    __slots__ = ("current", "limit", "previous", "start")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.start = 0.0
        self.current = 0
        self.previous = 0

    def _roll(self, now: float) -> float:
        elapsed = now - self.start
        if elapsed >= WINDOW:
            windows = int(elapsed // WINDOW)
            self.previous = self.current if windows == 1 else 0
            self.current = 0
            self.start += windows * WINDOW
            elapsed = now - self.start
        return elapsed

    def used(self, now: float) -> float:
        elapsed = self._roll(now)
        return self.previous * (1.0 - elapsed / WINDOW) + self.current

    def has_room(self, now: float, amount: int = 1) -> bool:
        return self.used(now) + amount <= self.limit

    def add(self, now: float, amount: int) -> None:
        self._roll(now)
        self.current += amount

    def retry_after(self, now: float, amount: int = 1) -> float:
        """Seconds until ``amount`` more would fit (an estimate, for a Retry-After header)."""
        elapsed = self._roll(now)
        room = self.limit - self.current - amount
        if room < 0:
            # Not before this window ends; then this window's count decays as "previous".
            later = self.limit - amount
            if later < 0 or self.current <= 0:
                return WINDOW - elapsed
            return WINDOW - elapsed + max(0.0, WINDOW * (1.0 - later / self.current))
        if self.previous <= 0:
            return 0.0
        # previous * (1 - t / WINDOW) <= room  ⇔  t >= WINDOW * (1 - room / previous)
        return max(0.0, WINDOW * (1.0 - room / self.previous) - elapsed)

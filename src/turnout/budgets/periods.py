"""Budget periods: a day, a week (from Monday) or a calendar month, in UTC.

A period is named by its start in epoch seconds. Spend is counted per (scope, period start),
so a new period starts from zero without anything having to reset it: the old counter is
simply no longer asked about, and expires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def period_start(period: str, now: float) -> int:
    at = datetime.fromtimestamp(now, UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start = day
    elif period == "week":
        start = day - timedelta(days=day.weekday())
    elif period == "month":
        start = day.replace(day=1)
    else:
        raise ValueError(f"unknown budget period {period!r}")
    return int(start.timestamp())


def period_end(period: str, start: int) -> int:
    at = datetime.fromtimestamp(start, UTC)
    if period == "day":
        end = at + timedelta(days=1)
    elif period == "week":
        end = at + timedelta(days=7)
    elif period == "month":
        end = (at.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        raise ValueError(f"unknown budget period {period!r}")
    return int(end.timestamp())


def since(period: str, now: float) -> datetime:
    return datetime.fromtimestamp(period_start(period, now), UTC)


class Periods:
    """The current period start of each kind, recomputed only when a period ends (the
    request path asks on every budgeted call; a datetime round trip costs microseconds)."""

    def __init__(self) -> None:
        self._current: dict[str, tuple[int, int]] = {}

    def start(self, period: str, now: float) -> int:
        current = self._current.get(period)
        if current is None or not current[0] <= now < current[1]:
            begin = period_start(period, now)
            current = self._current[period] = (begin, period_end(period, begin))
        return current[0]

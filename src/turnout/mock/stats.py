"""Counters a test reads from ``GET /_mock/stats`` to see what reached the upstream.

The key one is ``cancelled_streams``: it proves that a client (or the gateway) going away
mid-stream really closed the upstream connection instead of draining it in the background.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson


@dataclass(slots=True)
class MockStats:
    requests: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    active_streams: int = 0
    completed_streams: int = 0
    cancelled_streams: int = 0
    cancelled_requests: int = 0
    cache_hits: int = 0

    def count(self, path: str) -> None:
        self.requests += 1
        self.by_path[path] += 1

    def reset(self) -> None:
        """Zero the counters; streams still running stay counted as active."""
        active = self.active_streams
        self.requests = self.completed_streams = self.cancelled_streams = 0
        self.cancelled_requests = self.cache_hits = 0
        self.by_path.clear()
        self.active_streams = active

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "requests": self.requests,
                "by_path": dict(self.by_path),
                "active_streams": self.active_streams,
                "completed_streams": self.completed_streams,
                "cancelled_streams": self.cancelled_streams,
                "cancelled_requests": self.cancelled_requests,
                "cache_hits": self.cache_hits,
            }
        )

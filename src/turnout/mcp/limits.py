"""``tool_rpm``: tool calls per minute per key and per team, counted in this process.

A sliding window of the last minute's call times per scope (bounded by the limit itself, and
scopes by :data:`_MAX_SCOPES`). With several workers each counts its own calls, as the memory
backend of the model limits does (docs/mcp.md).
"""

from __future__ import annotations

import time
from collections import deque

_MAX_SCOPES = 100_000


class ToolLimiter:
    def __init__(self) -> None:
        self.windows: dict[str, deque[float]] = {}

    def admit(self, limits: list[tuple[str, int]], now: float | None = None) -> str | None:
        """None if the call may go; otherwise why not. Counts it only when admitted."""
        if not limits:
            return None
        now = time.monotonic() if now is None else now
        windows = []
        for scope, rpm in limits:
            window = self.windows.get(scope)
            if window is None:
                if len(self.windows) >= _MAX_SCOPES:
                    self.windows.clear()
                window = self.windows[scope] = deque()
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= rpm:
                who = "key" if scope.startswith("k:") else "team"
                return f"Tool call rate limit of this {who} reached ({rpm} per minute)."
            windows.append(window)
        for window in windows:
            window.append(now)
        return None

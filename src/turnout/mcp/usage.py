"""Tool-call usage since the gateway started, per server and tool: what ``/admin/mcp/usage``,
the dashboard's MCP page and ``turnout mcp`` show without a database query. The request log
holds every call durably (protocol ``mcp``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MAX_ROWS = 10_000  # (server, tool) pairs; tool names come from upstream catalogues


@dataclass(slots=True)
class ToolStats:
    calls: int = 0
    errors: int = 0
    latency_ms_total: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    last_error: str | None = None


class ToolUsage:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ToolStats] = {}

    def add(
        self,
        server: str,
        tool: str,
        status: int,
        error: str | None,
        latency: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        row = self.rows.get((server, tool))
        if row is None:
            if len(self.rows) >= _MAX_ROWS:
                return
            row = self.rows[(server, tool)] = ToolStats()
        row.calls += 1
        if error is not None:
            row.errors += 1
            row.last_error = error
        row.latency_ms_total += latency * 1000
        row.bytes_in += bytes_in
        row.bytes_out += bytes_out

    def report(self) -> list[dict[str, Any]]:
        return [
            {
                "server": server,
                "tool": tool,
                "calls": s.calls,
                "errors": s.errors,
                "avg_latency_ms": round(s.latency_ms_total / s.calls, 2) if s.calls else None,
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "last_error": s.last_error,
            }
            for (server, tool), s in sorted(self.rows.items())
        ]

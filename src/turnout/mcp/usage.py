"""Tool-call usage since the gateway started, per server and tool: what ``/admin/mcp/usage``,
the dashboard's MCP page and ``turnout mcp`` show without a database query. The request log
holds every call durably (protocol ``mcp``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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


class ToolMetrics:
    """A Prometheus collector over :class:`ToolUsage` and the servers' states, registered in
    the gateway's ``/metrics`` registry: tool names are bounded by the upstreams' catalogues
    (and ``_MAX_ROWS``), not by what callers send."""

    def __init__(self, usage: ToolUsage, states: Any) -> None:
        self.usage = usage
        self.states = states  # () -> {server: state}

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        labels = ("server", "tool")
        calls = CounterMetricFamily(
            "turnout_mcp_tool_calls", "MCP tool calls through the gateway", labels=labels
        )
        errors = CounterMetricFamily(
            "turnout_mcp_tool_errors",
            "MCP tool calls that failed or reported an error",
            labels=labels,
        )
        seconds = CounterMetricFamily(
            "turnout_mcp_tool_seconds", "time spent in MCP tool calls", labels=labels
        )
        sent = CounterMetricFamily(
            "turnout_mcp_tool_bytes", "bytes of MCP tool arguments and results",
            labels=(*labels, "direction"),
        )  # fmt: skip
        for (server, tool), s in list(self.usage.rows.items()):
            calls.add_metric([server, tool], s.calls)
            errors.add_metric([server, tool], s.errors)
            seconds.add_metric([server, tool], s.latency_ms_total / 1000)
            sent.add_metric([server, tool, "in"], s.bytes_in)
            sent.add_metric([server, tool, "out"], s.bytes_out)
        up = GaugeMetricFamily(
            "turnout_mcp_server_up", "1 if the MCP server is connected", labels=["server"]
        )
        for server, state in self.states().items():
            up.add_metric([server], 1.0 if state in ("up", "passthrough") else 0.0)
        yield from (calls, errors, seconds, sent, up)

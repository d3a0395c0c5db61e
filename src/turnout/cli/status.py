"""``turnout status``: the health of a running gateway's deployments and keys.

Reads ``GET /admin/health`` (the gateway's address from ``--url``, or the host and port of the
config), so it shows what the serving process actually routes by.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import new_table, print_tables

if TYPE_CHECKING:
    from rich.table import Table

_STYLE = {"active": "green", "half_open": "yellow"}


def _url(url: str | None, config: Path | None) -> str:
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError

    if url:
        return url.rstrip("/")
    try:
        server = partial_config(config_path(config), "server").server
    except ConfigError:
        return "http://127.0.0.1:4141"
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{host}:{server.port}"


def _when(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def tables(report: dict[str, Any]) -> list[Table]:
    deployments = new_table(
        "Deployments",
        ("deployment", "state", "reason", "retry in", "in flight", "latency", "models"),
        right=("retry in", "in flight", "latency"),
    )
    for d in report.get("deployments", []):
        state = d["state"]
        deployments.add_row(
            d["id"],
            f"[{_STYLE.get(state, 'red')}]{state}[/]",
            d["reason"] or "",
            _when(d["retry_in"]),
            str(d["inflight"]),
            f"{d['latency_ms']:.0f} ms" if d["latency_ms"] else "",
            ", ".join(d["models"]),
        )
    keys = new_table(
        "Keys",
        ("provider", "scope", "key", "state", "reason", "retry in", "last probe"),
        right=("retry in",),
    )
    for k in report.get("keys", []):
        state = k["state"]
        keys.add_row(
            k["provider"],
            k["scope"],
            k["key"],
            f"[{_STYLE.get(state, 'red')}]{state}[/]",
            k["reason"] or "",
            _when(k["retry_in"]),
            _probe(k),
        )
    out = [deployments, keys]
    if report.get("mcp_servers"):  # docs/mcp.md
        from turnout.cli.mcp_cmd import servers_table

        out.append(servers_table(report["mcp_servers"]))
    return out


def _probe(key: dict[str, Any]) -> str:
    """The last probe's outcome and how long ago it was (wall clock, any replica's)."""
    outcome, at = key.get("probe") or "", key.get("probed_at")
    if not isinstance(at, (int, float)):
        return outcome
    return f"{outcome} {max(0.0, time.time() - at):.0f}s ago".strip()


def keeper_line(report: dict[str, Any]) -> str:
    """Who probes: the keeper lease's holder (one process among every replica and worker)."""
    keeper = report.get("keeper") or {}
    lease = keeper.get("lease") or {}
    holder = lease.get("holder")
    if not holder:
        return "keeper: no process holds the lease (no keeper running)"
    here = " (this gateway)" if lease.get("held_here") else ""
    left = lease.get("expires_in")
    until = f", lease for {left:.1f}s more" if isinstance(left, (int, float)) else ""
    return f"keeper: {holder}{here}{until}"


def status(
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The gateway's base URL (default: from the config)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw report.")] = False,
) -> None:
    """Show the state of every deployment and key of a running gateway."""
    from turnout.cli.keys import admin_request

    base = _url(url, config)
    try:
        with urllib.request.urlopen(admin_request(base + "/admin/health"), timeout=5) as resp:
            report = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        typer.echo(f"turnout: cannot read {base}/admin/health: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    print_tables(*tables(report), empty="no deployments")
    typer.echo(keeper_line(report))

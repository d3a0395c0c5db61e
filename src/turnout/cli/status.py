"""``turnout status``: the health of a running gateway's deployments and keys.

Reads ``GET /admin/health`` (the gateway's address from ``--url``, or the host and port of the
config), so it shows what the serving process actually routes by.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from turnout.cli.build import build_config, config_path
from turnout.cli.keys import admin_request
from turnout.config.load import ConfigError

_STYLE = {"active": "green", "half_open": "yellow"}


def _url(url: str | None, config: Path | None) -> str:
    if url:
        return url.rstrip("/")
    try:
        server = build_config(config_path(config)).server
    except ConfigError:
        return "http://127.0.0.1:4141"
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{host}:{server.port}"


def _when(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def tables(report: dict[str, Any]) -> list[Table]:
    deployments = Table(title="Deployments")
    for column in ("deployment", "state", "reason", "retry in", "in flight", "latency", "models"):
        deployments.add_column(column)
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
    keys = Table(title="Keys")
    for column in ("provider", "scope", "key", "state", "reason", "retry in", "last probe"):
        keys.add_column(column)
    for k in report.get("keys", []):
        state = k["state"]
        keys.add_row(
            k["provider"],
            k["scope"],
            k["key"],
            f"[{_STYLE.get(state, 'red')}]{state}[/]",
            k["reason"] or "",
            _when(k["retry_in"]),
            k["probe"] or "",
        )
    return [deployments, keys]


def status(
    url: Annotated[str | None, typer.Option(help="gateway base URL")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="config file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the raw report")] = False,
) -> None:
    """Show the state of every deployment and key of a running gateway."""
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
    console = Console()
    for table in tables(report):
        console.print(table)

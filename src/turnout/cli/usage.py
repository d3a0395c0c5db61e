"""``turnout usage``: the usage report as a table (the same report as ``GET /admin/usage``).

Reads the database of the config directly (``--database-url`` or ``TURNOUT_DATABASE_URL``
to point elsewhere), so it works whether or not a gateway is running; ``--url`` asks a running
gateway instead.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from turnout.cli.build import build_config, config_path
from turnout.cli.keys import admin_request
from turnout.config.load import ConfigError
from turnout.storage.query import window
from turnout.storage.report import BadQuery, usage_report
from turnout.storage.sql.engine import database_url, make_engine, normalize
from turnout.storage.sql.logs import SqlLogStore


def _cost(value: float | None, unpriced: int) -> str:
    text = "unknown" if value is None else f"${value:,.4f}"
    return f"{text} (+{unpriced} unpriced)" if unpriced and value is not None else text


def _ms(values: dict[str, float | None]) -> str:
    return " / ".join("-" if v is None else f"{v:,.0f}" for v in values.values())


def table(report: dict[str, Any]) -> Table:
    out = Table(title=f"Usage by {report['group_by']}, {report['from']} to {report['to']}")
    for column in ("group", "requests", "errors", "input", "output", "cached", "cost"):
        out.add_column(column, justify="left" if column == "group" else "right")
    out.add_column("latency p50/p90/p99 ms", justify="right")
    out.add_column("ttft p50/p90/p99 ms", justify="right")
    rows = list(report["groups"])
    if report.get("total") and len(rows) > 1:
        rows.append({**report["total"], "group": "[b]total[/]"})
    for g in rows:
        out.add_row(
            str(g["group"]) if g["group"] is not None else "(none)",
            f"{g['requests']:,}",
            f"{g['errors']:,} ({g['error_rate']:.1%})",
            f"{g['input_tokens']:,}",
            f"{g['output_tokens']:,}",
            f"{g['cached_tokens']:,}",
            _cost(g["cost_usd"], g["unpriced_requests"]),
            _ms(g["latency_ms"]),
            _ms(g["ttft_ms"]),
        )
    return out


async def _from_database(
    url: str, group_by: str, start: str | None, end: str | None, model: str | None
) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        begin, stop = window(start, end)
        return await usage_report(SqlLogStore(engine), group_by, begin, stop, model)
    finally:
        await engine.dispose()


def _from_gateway(
    url: str, group_by: str, start: str | None, end: str | None, model: str | None
) -> dict[str, Any]:
    params = {"group_by": group_by, "from": start, "to": end, "model": model}
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    with urllib.request.urlopen(
        admin_request(f"{url.rstrip('/')}/admin/usage?{query}"), timeout=30
    ) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def usage(
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by", "-g", help="model|provider|deployment|key|team|provider_key|status|day"
        ),
    ] = "model",
    start: Annotated[
        str | None, typer.Option("--from", help="ISO time or duration back (24h, 7d)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO time or duration back")] = None,
    model: Annotated[str | None, typer.Option(help="only this public model")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="config file (or TURNOUT_CONFIG)")
    ] = None,
    database_url_opt: Annotated[
        str | None, typer.Option("--database-url", help="read this database instead")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="ask a running gateway")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Requests, tokens, cost, errors and latency, grouped."""
    try:
        if url:
            report = _from_gateway(url, group_by, start, end, model)
        else:
            if database_url_opt:
                db = normalize(database_url_opt)
            else:
                db = database_url(build_config(config_path(config)).storage)
            report = asyncio.run(_from_database(db, group_by, start, end, model))
    except ConfigError as exc:
        typer.echo(f"turnout: invalid configuration ({exc.source}):", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    except (BadQuery, ValueError, urllib.error.URLError) as exc:
        typer.echo(f"turnout usage: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        typer.echo(f"turnout usage: cannot read the request log: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(table(report))

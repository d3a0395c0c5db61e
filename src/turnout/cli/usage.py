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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import config_failure, new_table, print_tables, quiet_logging

if TYPE_CHECKING:
    from rich.table import Table

_GROUPS = "model, provider, deployment, key, team, provider_key, status or day"
_TIME_HELP = "a duration back from now (30m, 24h, 7d, 2w) or an ISO 8601 date or time"


def _cost(value: float | None, unpriced: int) -> str:
    text = "unknown" if value is None else f"${value:,.4f}"
    return f"{text} (+{unpriced} unpriced)" if unpriced and value is not None else text


def _ms(values: dict[str, float | None]) -> str:
    return " / ".join("-" if v is None else f"{v:,.0f}" for v in values.values())


def table(report: dict[str, Any]) -> Table:
    columns = (
        "group",
        "requests",
        "errors",
        "input",
        "output",
        "cached",
        "cost",
        "latency p50/p90/p99 ms",
        "ttft p50/p90/p99 ms",
    )
    out = new_table(
        f"Usage by {report['group_by']}, {report['from']} to {report['to']}",
        columns,
        right=columns[1:],
    )
    rows = list(report["groups"])
    if report.get("total") and len(rows) > 1:
        rows.append({**report["total"], "group": "[b]total[/]"})
    for g in rows:
        out.add_row(
            # "" is a call refused before its body named a model (a wrong key: a 401)
            str(g["group"]) if g["group"] not in (None, "") else "(none)",
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
    from turnout.storage.query import window
    from turnout.storage.report import usage_report
    from turnout.storage.sql.engine import make_engine
    from turnout.storage.sql.logs import SqlLogStore

    engine = make_engine(url)
    try:
        begin, stop = window(start, end)
        return await usage_report(SqlLogStore(engine), group_by, begin, stop, model)
    finally:
        await engine.dispose()


def _from_gateway(
    url: str, group_by: str, start: str | None, end: str | None, model: str | None
) -> dict[str, Any]:
    from turnout.cli.keys import admin_request

    params = {"group_by": group_by, "from": start, "to": end, "model": model}
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    with urllib.request.urlopen(
        admin_request(f"{url.rstrip('/')}/admin/usage?{query}"), timeout=30
    ) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def usage(
    group_by: Annotated[
        str, typer.Option("--group-by", "-g", metavar="GROUP", help=f"Group rows by {_GROUPS}.")
    ] = "model",
    start: Annotated[
        str | None,
        typer.Option("--from", metavar="TIME", help=f"Start: {_TIME_HELP} (default 24h)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="TIME", help=f"End: {_TIME_HELP} (default now).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="Only this public model.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
    ] = None,
    database_url_opt: Annotated[
        str | None,
        typer.Option("--database-url", metavar="URL", help="Read this database instead."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", metavar="URL", help="Ask a running gateway instead of the database."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Requests, tokens, cost, errors and latency, grouped."""
    from turnout.config.load import ConfigError
    from turnout.storage.report import BadQuery

    try:
        if url:
            report = _from_gateway(url, group_by, start, end, model)
        else:
            from turnout.cli.build import config_path, partial_config
            from turnout.storage.sql.engine import database_url, normalize

            if database_url_opt:
                db = normalize(database_url_opt)
            else:
                db = database_url(partial_config(config_path(config), "storage").storage)
            quiet_logging()
            report = asyncio.run(_from_database(db, group_by, start, end, model))
    except ConfigError as exc:
        config_failure(exc)
    except (BadQuery, ValueError, urllib.error.URLError) as exc:
        typer.echo(f"turnout usage: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        typer.echo(f"turnout usage: cannot read the request log: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        print_tables(table(report))

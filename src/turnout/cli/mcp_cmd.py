"""``turnout mcp``: the MCP servers of a running gateway and their tools (docs/mcp.md).

Reads ``GET /admin/mcp/servers`` and ``GET /admin/mcp/tools`` like ``turnout status`` reads
``/admin/health``: the gateway's address from ``--url`` or the config, the master key from
``TURNOUT_MASTER_KEY``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import new_table, print_tables

if TYPE_CHECKING:
    from rich.table import Table

app = typer.Typer(
    help="The MCP servers of a running gateway and their tools.", no_args_is_help=True
)
_STYLE = {"up": "green", "connecting": "yellow"}

Url = Annotated[
    str | None,
    typer.Option(metavar="URL", help="The gateway's base URL (default: from the config)."),
]
Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the raw answer.")]


def _get(url: str | None, config: Path | None, path: str) -> Any:
    from turnout.cli.keys import admin_request
    from turnout.cli.status import _url

    base = _url(url, config)
    try:
        with urllib.request.urlopen(admin_request(base + path), timeout=10) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        typer.echo(f"turnout: cannot read {base}{path}: {exc}", err=True)
        raise typer.Exit(1) from None


def servers_table(rows: list[dict[str, Any]]) -> Table:
    table = new_table(
        "MCP servers",
        ("server", "state", "transport", "endpoint", "tools", "prompts", "resources", "error"),
        right=("tools", "prompts", "resources"),
    )
    for s in rows:
        state = s["state"]
        table.add_row(
            s["name"],
            f"[{_STYLE.get(state, 'red')}]{state}[/]",
            s["transport"],
            s.get("endpoint") or "",
            str(s["tools"]),
            str(s["prompts"]),
            str(s["resources"] + s["resource_templates"]),
            s.get("error") or "",
        )
    return table


@app.command("list")
def list_servers(url: Url = None, config: Config = None, as_json: AsJson = False) -> None:
    """Every MCP server: state, transport, endpoint and how many tools it offers."""
    rows = _get(url, config, "/admin/mcp/servers")["servers"]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_tables(servers_table(rows), empty="no MCP servers")


@app.command("tools")
def tools(
    server: Annotated[str | None, typer.Argument(help="Only this server's tools.")] = None,
    url: Url = None,
    config: Config = None,
    as_json: AsJson = False,
) -> None:
    """The tools, named as /mcp names them (server__tool)."""
    query = "?" + urllib.parse.urlencode({"server": server}) if server else ""
    rows = _get(url, config, "/admin/mcp/tools" + query)["tools"]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = new_table("MCP tools", ("name", "server", "description"))
    for t in rows:
        table.add_row(t["name"], t["server"], (t.get("description") or "").split("\n")[0])
    print_tables(table, empty="no tools")

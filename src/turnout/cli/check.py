"""``turnout check``: validate a config and print the routing it compiles to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from turnout.api.admin.config import mask
from turnout.cli.build import build_config, config_path
from turnout.config.compile import Runtime, compile_config
from turnout.config.load import ConfigError


def routing_table(runtime: Runtime) -> Table:
    table = Table(title="Routing table", show_lines=False)
    for column in (
        "model",
        "strategy",
        "priority",
        "weight",
        "provider",
        "type",
        "upstream model",
        "base url",
        "keys",
    ):
        table.add_column(column)
    for route in (*runtime.models.values(), *runtime.patterns):
        for i, d in enumerate(route.deployments):
            spec = runtime.providers[d.provider]
            keys = ", ".join(mask(k) for k in spec.api_keys if k) or "-"
            table.add_row(
                route.name if i == 0 else "",
                route.strategy if i == 0 else "",
                str(d.priority),
                f"{d.weight:g}",
                d.provider,
                spec.type,
                d.model if d.model != "*" else "(as requested)",
                spec.base_url,
                keys,
            )
    return table


def check(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="config file")] = None,
    demo: Annotated[bool, typer.Option(help="as `serve --demo` would")] = False,
) -> None:
    """Validate a config (every problem at once) and print the resolved routing table."""
    console = Console()
    path = config_path(config)
    try:
        runtime = compile_config(build_config(path, demo=demo))
    except ConfigError as exc:
        # Plain lines, never wrapped: people grep and paste these paths.
        typer.echo(
            f"invalid configuration ({exc.source}): {len(exc.problems)} problem(s)", err=True
        )
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    console.print(f"[green]ok[/] {path or 'zero-config'}")
    console.print(routing_table(runtime))

"""``turnout check``: validate a config and print the routing it compiles to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from turnout.cli.output import config_failure, fail, new_table, print_tables

if TYPE_CHECKING:
    from rich.table import Table

    from turnout.config.compile import Runtime

_COLUMNS = (
    "model",
    "strategy",
    "priority",
    "weight",
    "provider",
    "type",
    "upstream model",
    "base url",
    "keys",
)


def routing_table(runtime: Runtime) -> Table:
    from turnout.api.admin.config import mask
    from turnout.outbound.display import display_url  # a ?key= or user:pass@ is a credential

    table = new_table("Routing table", _COLUMNS)
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
                display_url(spec.base_url),
                keys,
            )
    return table


def check(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Check as `serve --demo` would.")] = False,
    print_canonical: Annotated[
        bool,
        typer.Option(
            "--print-canonical",
            help="Print the file in Turnout's own spelling (YAML; other gateways' settings "
            "rewritten, literal keys masked) instead of the routing table.",
        ),
    ] = False,
) -> None:
    """Validate a config (every problem at once) and print its routes."""
    from turnout.cli.build import build_config, config_path, no_providers
    from turnout.cli.preflight import startup_problems, startup_warnings
    from turnout.config.compile import compile_config
    from turnout.config.load import ConfigError

    path = config_path(config)
    try:
        cfg = build_config(path, demo=demo)
        runtime = compile_config(cfg)
        problems = startup_problems(cfg)
        if problems:
            raise ConfigError(problems, "environment and config")
    except ConfigError as exc:
        config_failure(exc)
    for warning in startup_warnings(cfg):
        typer.secho(f"turnout: warning: {warning}", err=True, fg="yellow")
    missing = no_providers(cfg, path)
    if missing is not None:
        raise fail(str(missing), 2 if path is None else 1)
    if print_canonical:
        typer.echo(canonical_text(path, cfg), nl=False)
        return
    source = str(path) if path else "no file, providers from the environment"
    typer.echo(f"ok: {source}{' and --demo' if demo else ''}")
    print_tables(routing_table(runtime))


def canonical_text(path: Path | None, cfg: object) -> str:
    """The file's canonical form; with no file, the tree the command line built."""
    from turnout.config.canonical import render
    from turnout.config.load import read_raw
    from turnout.config.schema import TurnoutConfig

    if path is not None:
        raw = read_raw(path)
        return render(raw if isinstance(raw, dict) else {})
    assert isinstance(cfg, TurnoutConfig)
    return render(cfg.model_dump(mode="json", exclude_defaults=True))

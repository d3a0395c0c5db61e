"""``turnout config create``: append a commented template entry to a config file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from turnout.providers.registry import UnknownProviderType, names, provider_type

app = typer.Typer(help="Edit configuration files.", no_args_is_help=True)


def template(kind: str, name: str) -> str:
    if kind == "provider":
        try:
            text = provider_type(name).template  # each type's descriptor carries its own
        except UnknownProviderType:
            raise typer.BadParameter(
                f"unknown provider type '{name}' (known: {', '.join(names())})"
            ) from None
        body = text.replace("\n", "\n  ")
        return (
            f"# provider '{name}' (added by `turnout config create`)\n"
            f"providers:\n  {name}:\n    {body}\n"
            "    # headers: {x-extra: value}\n"
            "    # timeouts: {connect: 10, read: 300, total: 600}\n"
        )
    if kind == "model":
        return (
            f"# model '{name}' (added by `turnout config create`)\n"
            f"models:\n  {name}:\n    strategy: priority\n    deployments:\n"
            f"      - {{provider: openai, model: {name}, priority: 0, weight: 1}}\n"
            "      # - {provider: local, model: my-model, priority: 1}\n"
        )
    raise typer.BadParameter("expected provider:TYPE or model:NAME")


@app.command("create")
def create(
    what: Annotated[str, typer.Argument(help="provider:TYPE or model:NAME")],
    config: Annotated[Path, typer.Option("--config", "-c", help="file to append to")] = Path(
        "turnout.yaml"
    ),
    print_only: Annotated[bool, typer.Option("--print", help="print instead of appending")] = False,
) -> None:
    """Append a commented template entry (YAML merges same-named top-level keys poorly, so the
    entry is written as its own commented block to move under the existing section)."""
    kind, _, name = what.partition(":")
    if not name:
        raise typer.BadParameter("expected provider:TYPE or model:NAME")
    text = template(kind, name)
    if print_only:
        typer.echo(text, nl=False)
        return
    existing = config.read_text(encoding="utf-8") if config.exists() else ""
    section = "providers:" if kind == "provider" else "models:"
    if section in existing:
        # The file has the section already: append the entry commented out, ready to move.
        text = "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines())
    with config.open("a", encoding="utf-8") as fh:
        if existing and not existing.endswith("\n"):
            fh.write("\n")
        fh.write(("\n" if existing else "") + text)
    typer.echo(f"appended {kind} '{name}' to {config}")

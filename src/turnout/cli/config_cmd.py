"""``turnout config create``: add a template provider or model entry to a config file.

The entry is inserted as text at the end of the file's ``providers:`` or ``models:`` block
(or as a new block), so the user's comments and layout survive; the result is parsed again
before it is written, and a file the text insertion cannot handle (a section written in flow
style, ``providers: {...}``) is left untouched with the entry printed to paste by hand.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from turnout.cli.output import fail

app = typer.Typer(help="Edit configuration files.", no_args_is_help=True, rich_markup_mode=None)
_OPTIONAL_PROVIDER = [
    "# headers: {x-extra: value}",
    "# timeouts: {connect: 10, read: 300, total: 600}",
]


def entry(kind: str, name: str, provider: str = "openai", ptype: str | None = None) -> list[str]:
    """The entry's lines, relative to the section: its name, then its body indented by 2.
    A provider's type is ``ptype``, or its name when none is given (``provider:openai``)."""
    if kind == "provider":
        from turnout.providers.registry import UnknownProviderType, names, provider_type

        try:
            text = provider_type(ptype or name).template  # each type's descriptor carries its own
        except UnknownProviderType:
            known = ", ".join(names())
            wrong = ptype or name
            raise typer.BadParameter(f"unknown provider type '{wrong}' (known: {known})") from None
        # The descriptors indent every line after the first as it sits under the name.
        first, *rest = text.splitlines()
        body = [first, *textwrap.dedent("\n".join(rest)).splitlines(), *_OPTIONAL_PROVIDER]
    elif kind == "model":
        body = [
            "strategy: priority",
            "deployments:",
            f"  - {{provider: {provider}, model: {name}, priority: 0, weight: 1}}",
            "  # - {provider: local, model: my-model, priority: 1}",
        ]
    else:
        raise typer.BadParameter("expected provider:TYPE or model:NAME")
    return [f"{name}:", *(f"  {line}" for line in body)]


def template(kind: str, name: str, provider: str = "openai", ptype: str | None = None) -> str:
    """The entry as a complete YAML document (what ``--print`` shows)."""
    section = "providers" if kind == "provider" else "models"
    lines = entry(kind, name, provider, ptype)
    return f"{section}:\n" + "".join(f"  {line}\n" for line in lines)


def insert(text: str, section: str, lines: list[str]) -> str | None:
    """``text`` with ``lines`` added at the end of the block-style ``section``, or a new
    section appended; None when the section exists in a form text insertion cannot extend."""
    rows = text.splitlines()
    head = re.compile(rf"^{re.escape(section)}:\s*(#.*)?$")
    start = next((i for i, row in enumerate(rows) if head.match(row)), None)
    if start is None:
        if any(re.match(rf"^{re.escape(section)}\s*:", row) for row in rows):
            return None  # flow style or a value on the same line
        block = [f"{section}:", *(f"  {line}" for line in lines)]
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return prefix + ("\n" if text.strip() else "") + "\n".join(block) + "\n"
    end = start + 1
    last = start  # last line that belongs to the section's entries
    indent: str | None = None
    while end < len(rows):
        row = rows[end]
        if row.strip() and not row.startswith((" ", "\t", "#")):
            break  # the next top-level key
        if row.strip() and not row.lstrip().startswith("#"):
            last = end
            if indent is None:
                indent = row[: len(row) - len(row.lstrip())]
        end += 1
    pad = indent or "  "
    added = [f"{pad}{line}" for line in lines]
    return "\n".join([*rows[: last + 1], *added, *rows[last + 1 :]]) + "\n"


def parse_what(what: str) -> tuple[str, str, str | None]:
    """(kind, name, provider type) of ``provider:TYPE``, ``provider:TYPE:NAME``, ``TYPE:NAME``
    (llmproxy's spelling, which names the provider) or ``model:NAME``."""
    from turnout.providers.registry import UnknownProviderType, provider_type

    usage = "expected provider:TYPE, TYPE:NAME, provider:TYPE:NAME or model:NAME"
    head, _, rest = what.partition(":")
    if not rest:
        raise typer.BadParameter(usage, param_hint="KIND:NAME")
    if head == "model":
        return "model", rest, None
    if head == "provider":
        ptype, _, name = rest.partition(":")
        if not ptype or (":" in rest and not name):
            raise typer.BadParameter(usage, param_hint="KIND:NAME")
        return "provider", name or ptype, ptype
    try:
        provider_type(head)
    except UnknownProviderType:
        raise typer.BadParameter(
            f"{usage}; '{head}' is not a provider type", param_hint="KIND:NAME"
        ) from None
    if ":" in rest:
        raise typer.BadParameter(usage, param_hint="KIND:NAME")
    return "provider", rest, head


@app.command("create")
def create(
    what: Annotated[
        str,
        typer.Argument(
            metavar="KIND:NAME",
            help="provider:TYPE, TYPE:NAME (a provider of that type named NAME), "
            "provider:TYPE:NAME, or model:NAME",
        ),
    ],
    config: Annotated[
        Path, typer.Option("--config", "-c", metavar="FILE", help="File to add the entry to.")
    ] = Path("turnout.yaml"),
    provider: Annotated[
        str, typer.Option(metavar="NAME", help="For model:NAME, the provider it is served by.")
    ] = "openai",
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the entry instead of writing it.")
    ] = False,
) -> None:
    """Add a template provider or model entry (with commented options) to a config file."""
    import yaml

    kind, name, ptype = parse_what(what)
    lines = entry(kind, name, provider, ptype)
    if print_only:
        typer.echo(template(kind, name, provider, ptype), nl=False)
        return
    section = "providers" if kind == "provider" else "models"
    existing = config.read_text(encoding="utf-8") if config.exists() else ""
    try:
        before: Any = yaml.safe_load(existing) or {}
    except yaml.YAMLError as exc:
        raise fail(f"{config} is not valid YAML ({exc}); fix it first", 1) from None
    current = before.get(section) if isinstance(before, dict) else None
    if isinstance(current, dict) and name in current:
        raise fail(f"{config} already has {kind} '{name}' under {section}:", 1)
    updated = insert(existing, section, lines)
    after: Any = None
    if updated is not None:
        try:
            after = yaml.safe_load(updated)
        except yaml.YAMLError:
            after = None
    added = isinstance(after, dict) and isinstance(after.get(section), dict)
    if updated is None or not added or name not in after[section]:
        typer.echo(template(kind, name, provider, ptype), nl=False)
        raise fail(f"could not add the entry to {config}'s {section}: block; paste it by hand", 1)
    config.write_text(updated, encoding="utf-8")
    typer.echo(
        f"added {kind} '{name}' to {section}: in {config}; check it with: turnout check -c {config}"
    )

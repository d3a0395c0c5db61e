"""What every command prints the same way: config problems, failures and tables.

Tables are never cut. A table on a terminal folds long cells onto the next line instead of
ending them with an ellipsis (a masked key cut to ``sk-……`` or a cost cut to ``$0.00…`` is
worse than no value); piped into a file or another program it is printed as wide as its widest
row, whatever ``COLUMNS`` says, so ``grep`` and ``cut`` see whole values.

Rich is imported only when a table is printed, so ``--help`` and the commands that print plain
lines stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from turnout.config.load import ConfigError


def quiet_logging() -> None:
    """For commands that print results: the library's own log lines (a migration, say) go to
    stderr and only from warnings up, so stdout holds the result alone (``--json | jq``)."""
    from turnout.observability.logging import configure_logging

    configure_logging("warning", "console", stderr=True)


def config_failure(exc: ConfigError) -> NoReturn:
    """Print every problem of an invalid config (plain lines: people grep and paste them)."""
    typer.echo(
        f"turnout: invalid configuration ({exc.source}): {len(exc.problems)} problem(s)", err=True
    )
    for problem in exc.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(2)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``turnout: message`` on stderr; the caller raises the returned Exit."""
    typer.echo(f"turnout: {message}", err=True)
    return typer.Exit(code)


def new_table(title: str | None, columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    """A table whose cells fold instead of being cut; ``right`` names right-aligned columns."""
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column in right else "left")
    return table


def print_tables(*tables: Table, empty: str | None = None) -> None:
    """Print tables to stdout; ``empty`` is said instead when every table has no rows."""
    from rich.console import Console

    if empty is not None and all(t.row_count == 0 for t in tables):
        typer.echo(empty)
        return
    console = Console()
    if not sys.stdout.isatty():
        # Piped: no terminal to fit, so no wrapping at all (Console would assume 80 columns).
        wide = console.options.update_width(100_000)
        width = max(console.measure(t, options=wide).maximum for t in tables)
        console = Console(width=max(width, 20), no_color=True, highlight=False)
    for table in tables:
        console.print(table)

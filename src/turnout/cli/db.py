"""``turnout db``: migrate, inspect and prune the gateway's database.

``serve`` migrates on start; ``db upgrade`` does it ahead of a deploy (or for a database the
gateway's role may not alter). ``db prune`` applies ``storage.retention_days`` now. These
commands read only the ``storage`` section of the config: a provider key missing from the
environment does not stop a migration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from turnout.cli.output import config_failure, quiet_logging

if TYPE_CHECKING:
    from turnout.config.schema import TurnoutConfig

app = typer.Typer(
    help="Migrate, inspect and prune the database.", no_args_is_help=True, rich_markup_mode=None
)
T = TypeVar("T")
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", metavar="URL", help="This database instead of the config's."),
]


def _url(config: Path | None, url: str | None) -> tuple[str, TurnoutConfig]:
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError
    from turnout.storage.sql.engine import database_url, normalize

    try:
        cfg = partial_config(config_path(config), "storage")
    except ConfigError as exc:
        config_failure(exc)
    return (normalize(url) if url else database_url(cfg.storage)), cfg


def _run(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    quiet_logging()
    try:
        return asyncio.run(fn())
    except Exception as exc:
        typer.echo(f"turnout db: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def upgrade(
    config: ConfigOpt = None,
    database_url_opt: UrlOpt = None,
    revision: Annotated[
        str, typer.Option(metavar="REV", help="Target revision (default: the newest).")
    ] = "head",
) -> None:
    """Apply migrations up to --revision (default: the newest)."""
    from turnout.storage.sql.engine import display, make_engine, migrate

    url, _ = _url(config, database_url_opt)

    async def go() -> tuple[str | None, str | None]:
        engine = make_engine(url)
        try:
            return await migrate(engine, revision)
        finally:
            await engine.dispose()

    before, after = _run(go)
    typer.echo(f"{display(url)}: {before or '(empty)'} -> {after}")


@app.command()
def current(config: ConfigOpt = None, database_url_opt: UrlOpt = None) -> None:
    """Print the database's revision and the newest one this version knows."""
    from alembic.script import ScriptDirectory

    from turnout.storage.sql.engine import alembic_config, current_revision, display, make_engine

    url, _ = _url(config, database_url_opt)

    async def go() -> str | None:
        engine = make_engine(url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    rev = _run(go)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    state = "up to date" if rev == head else "needs `turnout db upgrade`"
    typer.echo(f"{display(url)}: revision {rev or '(empty)'}, newest {head} ({state})")


@app.command()
def prune(config: ConfigOpt = None, database_url_opt: UrlOpt = None) -> None:
    """Remove request rows older than storage.retention_days now."""
    from turnout.storage import Storage

    url, cfg = _url(config, database_url_opt)

    async def go() -> int:
        storage = Storage(cfg.storage, url)
        try:
            await storage.prepare()
            return await storage.maintain()
        finally:
            await storage.close()

    typer.echo(f"{_run(go)} rows pruned")

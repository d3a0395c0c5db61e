"""``turnout secrets``: the secret key that seals stored credentials and OAuth tokens.

Rotating ``TURNOUT_SECRET_KEY`` without downtime, in three steps:

1. give every gateway the new key first and the old one after it
   (``TURNOUT_SECRET_KEY=NEW,OLD``) and restart them one at a time: each opens values under
   either key and seals new ones under NEW;
2. ``turnout secrets rotate`` re-seals every stored value under NEW (running gateways keep
   serving: they can open both);
3. when ``turnout secrets status`` counts nothing under OLD, set ``TURNOUT_SECRET_KEY=NEW``.

These commands read the key list from the environment and the database from the config's
``storage`` section (or ``--database-url``); no gateway needs to run.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from turnout.cli.output import config_failure, fail, quiet_logging

if TYPE_CHECKING:
    from turnout.storage.sql.sealed import Report

app = typer.Typer(
    help="Generate, inspect and rotate the key that seals stored secrets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", metavar="URL", help="This database instead of the config's."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _database(config: Path | None, url: str | None) -> str:
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import database_url, normalize

    if url:
        db = normalize(url)
    else:
        try:
            cfg = partial_config(config_path(config), "storage")
        except ConfigError as exc:
            config_failure(exc)
        if not cfg.storage.enabled:
            raise fail("storage is disabled in this config: nothing is stored sealed")
        db = database_url(cfg.storage)
    if not backend_for(db).shared:
        raise fail(f"a {db.partition('://')[0]}:// database lives inside the gateway process")
    return db


def _run(db: str, dry_run: bool) -> Report:
    from turnout.crypto import ENV, SecretBox, SecretKeyError
    from turnout.storage.sql.engine import make_engine, migrate
    from turnout.storage.sql.sealed import rotate

    try:
        box = SecretBox.from_env()
    except SecretKeyError as exc:
        raise fail(str(exc)) from None
    if box is None:
        raise fail(f"set {ENV} (the new key first, then the old ones, comma-separated)")
    quiet_logging()

    async def go() -> Report:
        engine = make_engine(db)
        try:
            await migrate(engine)
            return await rotate(engine, box, dry_run=dry_run)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except Exception as exc:
        raise fail(f"database error: {type(exc).__name__}: {exc}") from None


def _print(report: Report, as_json: bool, *, dry_run: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        counts = ", ".join(f"{kid}: {n}" for kid, n in sorted(report.by_key.items())) or "none"
        typer.echo(f"newest key id {report.newest}; stored values by key id: {counts}")
        if not dry_run:
            typer.echo(
                f"re-sealed {report.rotated}, already under the newest key {report.current}, "
                f"rewritten meanwhile (left as written) {report.changed}"
            )
        for problem in report.problems:
            typer.echo(f"cannot open: {problem}", err=True)
    if report.problems:
        raise typer.Exit(1)


@app.command()
def generate() -> None:
    """Print a new random key (64 hex digits) for TURNOUT_SECRET_KEY."""
    import secrets

    typer.echo(secrets.token_hex(32))


@app.command()
def status(config: ConfigOpt = None, database_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Count the stored sealed values under each key id; name those no listed key opens."""
    _print(_run(_database(config, database_url), dry_run=True), as_json, dry_run=True)


@app.command()
def rotate(config: ConfigOpt = None, database_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Re-seal every stored value under the newest key of TURNOUT_SECRET_KEY."""
    _print(_run(_database(config, database_url), dry_run=False), as_json, dry_run=False)

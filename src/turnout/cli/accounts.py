"""``turnout accounts``: provider accounts signed in with OAuth (docs/oauth.md).

``accounts login PROVIDER`` signs an account in for a provider with ``auth: oauth``: the
device flow (a code to enter on another device) when the profile has a
``device_authorization_url``, else the authorization code flow with PKCE and a loopback
callback (``--browser`` forces it; ``--no-open`` only prints the URL). The tokens are sealed
under ``TURNOUT_SECRET_KEY`` and stored in the config's database; every running gateway picks
the account up within a second and routes with it. ``accounts list`` and ``accounts remove``
read and change the same table. The account id is printed alone on the last line.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import config_failure, fail, new_table, print_tables, quiet_logging

if TYPE_CHECKING:
    from turnout.config.schema import TurnoutConfig
    from turnout.oauth.accounts import AccountStore

app = typer.Typer(
    help="Sign provider accounts in with OAuth; list and remove them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", metavar="URL", help="This database instead of the config's."),
]


def _config(config: Path | None) -> TurnoutConfig:
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError

    try:
        return partial_config(config_path(config), "storage", "providers", "outbound")
    except ConfigError as exc:
        config_failure(exc)


def _database(cfg: TurnoutConfig, url: str | None) -> str:
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import database_url, normalize

    if url:
        db = normalize(url)
    elif not cfg.storage.enabled:
        raise fail("storage is disabled in this config: accounts are kept in its database")
    else:
        db = database_url(cfg.storage, os.environ)
    if not backend_for(db).shared:
        raise fail(f"a {db.partition('://')[0]}:// database lives inside the gateway process")
    return db


def _with_store(db: str, fn: Any) -> Any:
    from turnout.storage.sql.accounts import SqlAccountStore
    from turnout.storage.sql.engine import make_engine, migrate

    quiet_logging()

    async def go() -> Any:
        engine = make_engine(db)
        try:
            await migrate(engine)
            store: AccountStore = SqlAccountStore(engine)
            return await fn(store)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except typer.Exit:
        raise
    except Exception as exc:
        from turnout.oauth.client import OAuthError

        if isinstance(exc, OAuthError):
            raise fail(f"sign-in failed: {exc}") from None
        raise fail(f"{type(exc).__name__}: {exc}") from None


@app.command()
def login(
    provider: Annotated[
        str, typer.Argument(metavar="PROVIDER", help="A provider with auth: oauth.")
    ],
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="A label.")] = None,
    device: Annotated[bool, typer.Option("--device", help="Use the device flow.")] = False,
    browser: Annotated[
        bool, typer.Option("--browser", help="Use the browser flow (code + PKCE).")
    ] = False,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Print the sign-in URL; open no browser.")
    ] = False,
    port: Annotated[
        int, typer.Option(metavar="PORT", min=0, max=65535, help="Loopback callback port.")
    ] = 0,
) -> None:
    """Sign an account in for PROVIDER and store its tokens (sealed)."""
    from turnout.crypto import ENV, SecretBox, SecretKeyError
    from turnout.oauth.client import DeviceCode, OAuthClient
    from turnout.oauth.login import browser_login, device_login, store_account
    from turnout.outbound import OutboundPolicy

    cfg = _config(config)
    spec = cfg.providers.get(provider)
    if spec is None or spec.auth != "oauth" or spec.oauth is None:
        oauth = sorted(n for n, p in cfg.providers.items() if p.auth == "oauth") or ["none"]
        raise fail(f"{provider!r} is not a provider with auth: oauth ({', '.join(oauth)})")
    profile = spec.oauth
    try:
        box = SecretBox.from_env()
    except SecretKeyError as exc:
        raise fail(str(exc)) from None
    if box is None:
        raise fail(f"set {ENV}: account tokens are stored sealed")
    if device and browser:
        raise fail("--device or --browser, not both", 2)
    use_device = device or (not browser and profile.device_authorization_url is not None)
    db = _database(cfg, database_url)
    client = OAuthClient(profile, OutboundPolicy.from_config(cfg.outbound))

    def show_device(code: DeviceCode) -> None:
        typer.echo(f"Open {code.verification_uri} and enter the code {code.user_code}")
        if code.verification_uri_complete:
            typer.echo(f"(or open {code.verification_uri_complete})")
        typer.echo("Waiting for the sign-in…")

    def show_url(url: str) -> None:
        typer.echo("Sign in at:")
        typer.echo(url)
        if not no_open:
            import webbrowser

            webbrowser.open(url)
        typer.echo("Waiting for the sign-in…")

    async def go(store: AccountStore) -> str:
        if use_device:
            tokens = await device_login(client, show_device)
        else:
            tokens = await browser_login(client, show_url, port=port)
        record = await store_account(store, box, provider, tokens, name)
        return record.id

    account = _with_store(db, go)
    typer.echo(f"Signed in: account {account} of {provider}")
    typer.echo(account)


@app.command("list")
def list_accounts(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the accounts (never their tokens): status, why invalid, token expiry."""
    db = _database(_config(config), database_url)

    async def go(store: AccountStore) -> list[dict[str, Any]]:
        return [r.public() for r in await store.list() if r.deleted_at is None]

    rows: list[dict[str, Any]] = _with_store(db, go)
    if as_json:
        typer.echo(json.dumps({"accounts": rows}, indent=2))
        return
    table = new_table(None, ["id", "provider", "name", "status", "reason", "expires_at"])
    for r in rows:
        table.add_row(
            r["id"],
            r["provider"],
            r["name"] or "",
            r["status"],
            r["reason"] or "",
            r["expires_at"] or "",
        )
    print_tables(table, empty="no accounts")


@app.command()
def remove(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT", help="The account id.")],
    config: ConfigOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Remove an account: every gateway stops using it within a second."""
    db = _database(_config(config), database_url)

    async def go(store: AccountStore) -> bool:
        return await store.delete(account)

    if not _with_store(db, go):
        raise fail(f"not found: {account}")
    typer.echo(f"removed {account}")

"""``turnout``: serve, mock, check, reload, config, worker, status, usage, db, keys, teams,
secrets, accounts.

Help must be instant, so nothing heavy is imported at module level anywhere in ``turnout.cli``:
the command modules import typer and the standard library only, and each command imports the
gateway (FastAPI, SQLAlchemy, pydantic, uvicorn) inside its body. ``tests/unit/cli`` checks
that ``--help`` of every command leaves those modules unimported.

Help is plain text (``rich_markup_mode=None``): no boxes cut at 80 columns, no type labels
such as ``<bool>``; each option names its value (``--port PORT``) and says what it does.
"""

from __future__ import annotations

import typer

from turnout.cli import (
    accounts,
    check,
    config_cmd,
    db,
    keys,
    mcp_cmd,
    mock_cmd,
    reload,
    router_deploy,
    secrets_cmd,
    serve,
    status,
    usage,
    worker,
)

app = typer.Typer(
    name="turnout",
    help="Turnout: one endpoint for OpenAI, Anthropic, Gemini and OpenAI-compatible models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    """Print the installed distribution's version: the one a bug report needs."""
    if value:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            typer.echo(f"turnout {dist_version('turnout')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("turnout (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Turnout: one endpoint for OpenAI, Anthropic, Gemini and OpenAI-compatible models."""


app.command("serve")(serve.serve)
app.command("mock")(mock_cmd.mock)
app.command("check")(check.check)
app.command("reload")(reload.reload)
app.command("worker")(worker.worker)
app.command("status")(status.status)
app.command("usage")(usage.usage)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(keys.teams_app, name="teams")
app.add_typer(secrets_cmd.app, name="secrets")
app.add_typer(mcp_cmd.app, name="mcp")
app.add_typer(accounts.app, name="accounts")
app.add_typer(router_deploy.app, name="router")  # with the other router commands

if __name__ == "__main__":
    app()

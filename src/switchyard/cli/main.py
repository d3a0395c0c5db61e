"""``switchyard``: serve, mock, check, config, worker, status, usage, db, keys, teams."""

from __future__ import annotations

import typer

from switchyard.cli import check, config_cmd, db, keys, mock_cmd, serve, status, usage, worker

app = typer.Typer(
    name="switchyard",
    help="Switchyard: one endpoint for OpenAI, Anthropic, Gemini and OpenAI-compatible models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("mock")(mock_cmd.mock)
app.command("check")(check.check)
app.command("worker")(worker.worker)
app.command("status")(status.status)
app.command("usage")(usage.usage)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(keys.teams_app, name="teams")

if __name__ == "__main__":
    app()

"""``turnout reload``: make a running gateway apply its config file now.

It calls ``POST /admin/config/reload`` (the same as editing a watched file, or ``kill -HUP``),
and prints the new version, or every problem that kept the old config serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def reload(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG): its address."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(metavar="URL", help="Gateway URL (default: the config's).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", envvar="TURNOUT_MASTER_KEY", metavar="KEY", help="Master or admin key."
        ),
    ] = None,
) -> None:
    """Apply the config file to a running gateway, without a restart."""
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError
    from turnout.router.http import HttpError, post_json

    if url is None:
        try:
            server = partial_config(config_path(config), "server").server
        except ConfigError as exc:
            from turnout.cli.output import config_failure

            config_failure(exc)
        host = server.host if server.host not in ("0.0.0.0", "::") else "127.0.0.1"
        url = f"http://{host}:{server.port}"
    base = url.rstrip("/")
    try:
        status, raw = post_json(f"{base}/admin/config/reload", {}, key, timeout=60)
    except HttpError as exc:
        typer.echo(f"turnout reload: cannot reach the gateway: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        body = {"detail": raw[:200].decode("utf-8", "replace")}
    if not isinstance(body, dict):
        body = {"detail": body}
    if status == 200:
        typer.echo(f"{body.get('result', 'reloaded')}: config version {body.get('version')}")
        for section in body.get("restart_needed") or []:
            typer.echo(f"  {section}: changed; applies at the next start", err=True)
        for worker in body.get("workers") or []:
            typer.echo(f"  worker {worker.get('pid')}: version {worker.get('version')}")
        return
    if status == 422:
        typer.echo(
            f"turnout reload: refused; version {body.get('version')} keeps serving:", err=True
        )
        for problem in body.get("problems") or []:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"turnout reload: HTTP {status}: {body.get('detail', body)}", err=True)
    raise typer.Exit(1)

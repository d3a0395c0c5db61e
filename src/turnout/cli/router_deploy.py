"""``turnout router deploy`` and ``turnout router rollback`` (the live switch of a model group;
see :mod:`turnout.router.deploy`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from turnout.cli import router_models  # noqa: F401 (train, eval and list register first)
from turnout.cli.router_cmd import (
    DEFAULT_REGISTRY,
    ConfigOpt,
    RegistryOpt,
    _config,
    _fail,
    _url,
    app,
)

AdminKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="TURNOUT_MASTER_KEY",
        help="master or admin key for the reload",
        metavar="KEY",
    ),
]
UrlOpt = Annotated[
    str | None, typer.Option(help="gateway URL (default: the config's)", metavar="URL")
]
NoReloadOpt = Annotated[
    bool, typer.Option("--no-reload", help="only edit the file (a watching gateway applies it)")
]


def _file(config: Path | None) -> Path:
    from turnout.cli.build import config_path

    path = config_path(config)
    if path is None:
        raise _fail("deploying edits the config file: give -c/--config or TURNOUT_CONFIG")
    return path


def _reload(base: str, key: str | None) -> tuple[int, dict[str, Any]]:
    from turnout.router.http import HttpError, post_json

    try:
        status, body = post_json(f"{base}/admin/config/reload", {}, key, timeout=60)
    except HttpError:
        return 0, {}
    try:
        parsed = json.loads(body) if body else {}
    except json.JSONDecodeError:
        parsed = {"detail": body[:200].decode("utf-8", "replace")}
    return status, parsed if isinstance(parsed, dict) else {"detail": parsed}


def _apply(
    path: Path, model: str, strategy: str, options: dict[str, Any], how: str,
    registry: Path, url: str | None, key: str | None, no_reload: bool,
) -> None:  # fmt: skip
    from turnout.router.deploy import DeployError, edit_config, record
    from turnout.router.store import Registry

    original = path.read_bytes()
    try:
        change = edit_config(path, model, strategy, options)
    except DeployError as exc:
        raise _fail(str(exc)) from None
    described = f"{strategy} {options.get('router_version', '')}".strip()
    if no_reload:
        record(Registry(registry), change, how)
        typer.echo(f"{path}: {model} -> {described} (not reloaded: --no-reload)")
        return
    base = _url(_config(path), url)
    status, body = _reload(base, key)
    if status == 200:
        record(Registry(registry), change, how)
        before = f"{change.previous_strategy} {change.previous_options.get('router_version', '')}"
        typer.echo(
            f"{model} -> {described}: {body.get('result', 'reloaded')}, config version "
            f"{body.get('version')} (before: {before.strip()})"
        )
        return
    path.write_bytes(original)  # the gateway did not take it: file and gateway agree again
    if status == 0:
        raise _fail(f"cannot reach {base} to reload; {path} left unchanged", 2)
    problems = body.get("problems") or [body.get("detail", body)]
    typer.echo(f"turnout router: the gateway refused the change ({status}); "
               f"{path} left unchanged:", err=True)  # fmt: skip
    for problem in problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


@app.command()
def deploy(
    version: Annotated[str, typer.Argument(help="version: 3, v0003 or latest", metavar="VERSION")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="model group to switch", metavar="MODEL")
    ],
    config: ConfigOpt = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
    url: UrlOpt = None,
    key: AdminKeyOpt = None,
    no_reload: NoReloadOpt = False,
) -> None:
    """Serve a router version for a model group, live (config edit + hot reload)."""
    from turnout.router.deploy import learned_options
    from turnout.router.store import Registry, RouterStoreError

    path = _file(config)
    cfg = _config(path)
    group = cfg.models.get(model)
    if group is None:
        raise _fail(f"{path} defines no model group {model!r}")
    store = Registry(registry)
    try:
        name, kind = _check(store, version, bool(group.strategy_options.get("allow_pickle")))
    except RouterStoreError as exc:
        raise _fail(str(exc)) from None
    options = learned_options(group.strategy, dict(group.strategy_options), name, str(registry))
    _apply(path, model, kind, options, "deploy", registry, url, key, no_reload)


def _check(store: Any, version: str, allow_pickle: bool) -> tuple[str, str]:
    from turnout.router.deploy import check_version

    return check_version(store, version, allow_pickle)


@app.command()
def rollback(
    model: Annotated[
        str, typer.Option("--model", "-m", help="model group to switch back", metavar="MODEL")
    ],
    config: ConfigOpt = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
    url: UrlOpt = None,
    key: AdminKeyOpt = None,
    no_reload: NoReloadOpt = False,
) -> None:
    """Put back what the model group served before its last deployment."""
    from turnout.router.deploy import DeployError, rollback_target
    from turnout.router.store import Registry

    path = _file(config)
    try:
        strategy, options = rollback_target(Registry(registry), model)
    except DeployError as exc:
        raise _fail(str(exc)) from None
    _apply(path, model, strategy, options, "rollback", registry, url, key, no_reload)


__all__ = ["app", "deploy", "rollback"]

"""``turnout keys`` and ``turnout teams``: manage gateway keys and teams from a terminal.

By default they work on the database of the config (``-c``, ``TURNOUT_CONFIG``,
``--database-url``), with the same rules as the admin API (:mod:`turnout.auth.manage`), so
they work with no gateway running and without the master key: access to the database is the
credential. Every running gateway picks a change up within ``auth.refresh_interval``.
``--url`` talks to a running gateway's admin API instead, with ``--master-key`` (or
``TURNOUT_MASTER_KEY``). ``keys create`` prints the new key alone on its last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from turnout.auth.manage import (
    KeyBody,
    TeamBody,
    create_key,
    create_team,
    delete_team,
    revoke_key,
)
from turnout.auth.store import Conflict, KeyStore, Missing
from turnout.cli.build import build_config, config_path
from turnout.config.load import ConfigError

keys_app = typer.Typer(help="Create, list and revoke gateway keys.", no_args_is_help=True)
teams_app = typer.Typer(help="Create, list and delete teams.", no_args_is_help=True)
T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (or TURNOUT_CONFIG)")
]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="this database instead")]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="a running gateway's base URL (uses the admin API)")
]
MasterOpt = Annotated[
    str | None,
    typer.Option("--master-key", envvar="TURNOUT_MASTER_KEY", help="for --url"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"turnout: {message}", err=True)
    return typer.Exit(code)


def _database(config: Path | None, url: str | None) -> str:
    from turnout.storage.sql.engine import database_url, normalize

    if url:
        return normalize(url)
    try:
        cfg = build_config(config_path(config))
    except ConfigError as exc:
        typer.echo(f"turnout: invalid configuration ({exc.source}):", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    if not cfg.storage.enabled:
        raise _fail("storage is disabled in this config: keys live in the gateway; use --url")
    return database_url(cfg.storage, os.environ)


def _with_store(db: str, fn: Callable[[KeyStore], Awaitable[T]]) -> T:
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import make_engine, migrate
    from turnout.storage.sql.keys import SqlKeyStore

    if not backend_for(db).shared:
        raise _fail(
            f"a {db.partition('://')[0]}:// database lives inside the gateway process: use --url"
        )

    async def go() -> T:
        engine = make_engine(db)
        try:
            await migrate(engine)
            return await fn(SqlKeyStore(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (Missing, Conflict, ValueError) as exc:
        raise _fail(str(exc) if not isinstance(exc, Missing) else f"not found: {exc}") from None
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(f"database error: {type(exc).__name__}: {exc}") from None


def _admin(url: str, master: str | None, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url.rstrip('/')}{path}", data=data, method=method)
    request.add_header("content-type", "application/json")
    if master:
        request.add_header("authorization", f"Bearer {master}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise _fail(f"{method} {path}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _fail(f"cannot reach {url}: {exc}") from None


def admin_request(url: str) -> urllib.request.Request:
    """A GET of the admin API with the master key from ``TURNOUT_MASTER_KEY`` (for the
    commands that read a running gateway: ``status``, ``usage --url``)."""
    request = urllib.request.Request(url)
    master = os.environ.get("TURNOUT_MASTER_KEY")
    if master:
        request.add_header("authorization", f"Bearer {master}")
    return request


def _limits(model_limit: list[str]) -> dict[str, dict[str, int]]:
    """``'gpt-*:rpm=10,tpm=5000,parallel=2'`` -> {"gpt-*": {"rpm": 10, ...}}."""
    out: dict[str, dict[str, int]] = {}
    names = {"rpm": "rpm", "tpm": "tpm", "parallel": "max_parallel", "max_parallel": "max_parallel"}
    for spec in model_limit:
        glob, _, rest = spec.rpartition(":")
        if not glob or not rest:
            raise _fail(f"--model-limit {spec!r}: expected GLOB:rpm=N,tpm=N,parallel=N", 2)
        entry: dict[str, int] = {}
        for part in rest.split(","):
            name, _, value = part.partition("=")
            if name.strip() not in names or not value.strip().isdigit():
                raise _fail(f"--model-limit {spec!r}: bad part {part!r}", 2)
            entry[names[name.strip()]] = int(value)
        out[glob] = entry
    return out


def _metadata(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"--metadata {pair!r}: expected KEY=VALUE", 2)
        out[name] = value
    return out


@keys_app.command("create")
def keys_create(
    team: Annotated[str | None, typer.Option(help="the key's team (must exist)")] = None,
    name: Annotated[str | None, typer.Option(help="a label")] = None,
    models: Annotated[
        list[str] | None, typer.Option("--models", help="allowed model glob (repeatable)")
    ] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="tokens per minute")] = None,
    max_parallel: Annotated[int | None, typer.Option(min=1, help="requests in flight")] = None,
    budget: Annotated[float | None, typer.Option(min=0, help="USD per period")] = None,
    period: Annotated[str, typer.Option(help="budget period: day, week, month")] = "month",
    expires: Annotated[str | None, typer.Option(help="lifetime, e.g. 30d, 12h")] = None,
    model_limit: Annotated[
        list[str] | None,
        typer.Option("--model-limit", help="GLOB:rpm=N,tpm=N,parallel=N (repeatable)"),
    ] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", help="KEY=VALUE (repeatable)")
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="the key may also use the admin API")
    ] = False,
    viewer: Annotated[
        bool,
        typer.Option("--viewer", help="the key may read the admin API and the dashboard"),
    ] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line, and only now."""
    raw: dict[str, Any] = {
        "team": team,
        "name": name,
        "models": [m for spec in models or () for m in spec.split(",") if m],
        "rpm": rpm,
        "tpm": tpm,
        "max_parallel": max_parallel,
        "model_limits": _limits(model_limit or []),
        "metadata": _metadata(metadata or []),
        "expires_in": expires,
        "scopes": ["admin"] if admin else (["viewer"] if viewer else None),
    }
    if budget is not None:
        raw.update(budget=budget, budget_period=period)
    raw = {k: v for k, v in raw.items() if v is not None}
    try:
        body = KeyBody.model_validate(raw)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if url:
        created = _admin(
            url, master_key, "POST", "/admin/keys", body.model_dump(exclude_unset=True)
        )
        secret, public = created.pop("key"), created
    else:
        secret, record = _with_store(_database(config, database_url), lambda s: create_key(s, body))
        public = record.public()
    typer.echo(f"created {public['id']} (prefix {public['prefix']}, team {public['team'] or '-'})")
    typer.echo("the key is shown once; store it now:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(
    team: Annotated[str | None, typer.Option(help="only this team's keys")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """List keys (never the keys themselves: ids and prefixes)."""
    if url:
        query = f"?include_revoked={'true' if show_all else 'false'}"
        if team:
            query += f"&team={urllib.parse.quote(team)}"
        rows = _admin(url, master_key, "GET", f"/admin/keys{query}")["keys"]
    else:
        records = _with_store(_database(config, database_url), lambda s: s.list_keys(team=team))
        rows = [r.public() for r in records if show_all or not r.revoked]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("id", "prefix", "name", "team", "status", "models", "limits", "budget"):
        table.add_column(column, no_wrap=column in ("id", "prefix"))
    for r in rows:
        limits = " ".join(f"{n}={r[n]}" for n in ("rpm", "tpm", "max_parallel") if r.get(n))
        budget = f"${r['budget']:g}/{r['budget_period']}" if r.get("budget") is not None else ""
        table.add_row(
            r["id"],
            r["prefix"],
            r["name"] or "",
            r["team"] or "",
            r["status"],
            ",".join(r["models"]) or "*",
            limits,
            budget,
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (key_...)")],
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Revoke a key: refused by every gateway within a second."""
    if url:
        _admin(url, master_key, "POST", f"/admin/keys/{key_id}/revoke")
    else:
        _with_store(_database(config, database_url), lambda s: revoke_key(s, key_id))
    typer.echo(f"revoked {key_id}")


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="the team's name")],
    models: Annotated[
        list[str] | None, typer.Option("--models", help="allowed model glob (repeatable)")
    ] = None,
    rpm: Annotated[int | None, typer.Option(min=1)] = None,
    tpm: Annotated[int | None, typer.Option(min=1)] = None,
    max_parallel: Annotated[int | None, typer.Option(min=1)] = None,
    budget: Annotated[float | None, typer.Option(min=0, help="USD per period")] = None,
    period: Annotated[str, typer.Option(help="day, week, month")] = "month",
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Create a team (keys join it with ``keys create --team``)."""
    raw: dict[str, Any] = {
        "name": name,
        "models": [m for spec in models or () for m in spec.split(",") if m],
        "rpm": rpm,
        "tpm": tpm,
        "max_parallel": max_parallel,
    }
    if budget is not None:
        raw.update(budget=budget, budget_period=period)
    try:
        body = TeamBody.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if url:
        _admin(
            url,
            master_key,
            "POST",
            "/admin/teams",
            body.model_dump(exclude_unset=True, mode="json"),
        )
    else:
        _with_store(_database(config, database_url), lambda s: create_team(s, body))
    typer.echo(f"created team {name}")


@teams_app.command("list")
def teams_list(
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """List teams."""
    if url:
        rows = _admin(url, master_key, "GET", "/admin/teams")["teams"]
    else:
        records = _with_store(_database(config, database_url), lambda s: s.list_teams())
        rows = [t.public() for t in records if t.active]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        limits = " ".join(f"{n}={r[n]}" for n in ("rpm", "tpm", "max_parallel") if r.get(n))
        budget = f" ${r['budget']:g}/{r['budget_period']}" if r.get("budget") is not None else ""
        typer.echo(f"{r['name']}  models={','.join(r['models']) or '*'} {limits}{budget}".rstrip())


@teams_app.command("delete")
def teams_delete(
    name: Annotated[str, typer.Argument()],
    revoke_keys: Annotated[bool, typer.Option(help="revoke the team's keys too")] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Delete a team (refused while it has live keys, unless --revoke-keys)."""
    if url:
        flag = "true" if revoke_keys else "false"
        _admin(url, master_key, "DELETE", f"/admin/teams/{name}?revoke_keys={flag}")
    else:
        db = _database(config, database_url)
        _with_store(db, lambda s: delete_team(s, name, revoke_keys=revoke_keys))
    typer.echo(f"deleted team {name}")

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
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from turnout.cli.output import config_failure, new_table, print_tables, quiet_logging
from turnout.cli.output import fail as _fail

if TYPE_CHECKING:
    from turnout.auth.store import KeyStore

keys_app = typer.Typer(
    help="Create, list and revoke gateway keys.", no_args_is_help=True, rich_markup_mode=None
)
teams_app = typer.Typer(
    help="Create, list and delete teams.", no_args_is_help=True, rich_markup_mode=None
)
T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", metavar="URL", help="This database instead of the config's."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", metavar="URL", help="A running gateway's base URL (uses its admin API)."),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--master-key",
        metavar="KEY",
        envvar="TURNOUT_MASTER_KEY",
        show_envvar=True,
        help="The master key, for --url.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option("--models", metavar="GLOB", help="Allowed model glob (repeatable)."),
]
RpmOpt = Annotated[int | None, typer.Option(min=1, metavar="N", help="Requests per minute.")]
TpmOpt = Annotated[int | None, typer.Option(min=1, metavar="N", help="Tokens per minute.")]
ParallelOpt = Annotated[
    int | None, typer.Option(min=1, metavar="N", help="Requests in flight at once.")
]
BudgetOpt = Annotated[
    float | None, typer.Option(min=0, metavar="USD", help="Spend allowed per period.")
]
PeriodOpt = Annotated[
    str, typer.Option(metavar="PERIOD", help="Budget period: day, week or month.")
]


def _database(config: Path | None, url: str | None) -> str:
    from turnout.cli.build import config_path, partial_config
    from turnout.config.load import ConfigError
    from turnout.storage.sql.engine import database_url, normalize

    if url:
        return normalize(url)
    try:
        cfg = partial_config(config_path(config), "storage")
    except ConfigError as exc:
        config_failure(exc)
    if not cfg.storage.enabled:
        raise _fail("storage is disabled in this config: keys live in the gateway; use --url")
    return database_url(cfg.storage, os.environ)


def _with_store(db: str, fn: Callable[[KeyStore], Awaitable[T]]) -> T:
    from turnout.auth.store import Conflict, Missing
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import make_engine, migrate
    from turnout.storage.sql.keys import SqlKeyStore

    if not backend_for(db).shared:
        raise _fail(
            f"a {db.partition('://')[0]}:// database lives inside the gateway process: use --url"
        )
    quiet_logging()

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
    team: Annotated[
        str | None, typer.Option(metavar="TEAM", help="The key's team (must exist).")
    ] = None,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="A label.")] = None,
    models: ModelsOpt = None,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    max_parallel: ParallelOpt = None,
    budget: BudgetOpt = None,
    period: PeriodOpt = "month",
    expires: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Lifetime, e.g. 30d or 12h.")
    ] = None,
    model_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--model-limit",
            metavar="GLOB:LIMITS",
            help="Per-model limits, e.g. 'gpt-*:rpm=10,tpm=5000,parallel=2' (repeatable).",
        ),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", metavar="KEY=VALUE", help="A label to store (repeatable)."),
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="The key may also use the admin API.")
    ] = False,
    viewer: Annotated[
        bool,
        typer.Option("--viewer", help="The key may read the admin API and the dashboard."),
    ] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line, and only now."""
    from turnout.auth.manage import KeyBody, create_key

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
    team: Annotated[str | None, typer.Option(metavar="TEAM", help="Only this team's keys.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
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
    table = new_table(
        None, ("id", "prefix", "name", "team", "status", "models", "limits", "budget")
    )
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
    print_tables(table, empty="no keys" + (f" in team {team}" if team else ""))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (key_...).")],
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Revoke a key: refused by every gateway within a second."""
    from turnout.auth.manage import revoke_key

    if url:
        _admin(url, master_key, "POST", f"/admin/keys/{key_id}/revoke")
    else:
        _with_store(_database(config, database_url), lambda s: revoke_key(s, key_id))
    typer.echo(f"revoked {key_id}")


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The team's name.")],
    models: ModelsOpt = None,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    max_parallel: ParallelOpt = None,
    budget: BudgetOpt = None,
    period: PeriodOpt = "month",
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Create a team (keys join it with: turnout keys create --team NAME)."""
    from turnout.auth.manage import TeamBody, create_team

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
    table = new_table(None, ("name", "models", "limits", "budget"))
    for r in rows:
        limits = " ".join(f"{n}={r[n]}" for n in ("rpm", "tpm", "max_parallel") if r.get(n))
        budget = f"${r['budget']:g}/{r['budget_period']}" if r.get("budget") is not None else ""
        table.add_row(r["name"], ",".join(r["models"]) or "*", limits, budget)
    print_tables(table, empty="no teams")


@teams_app.command("delete")
def teams_delete(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The team's name.")],
    revoke_keys: Annotated[
        bool, typer.Option("--revoke-keys", help="Revoke the team's keys too.")
    ] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    master_key: MasterOpt = None,
) -> None:
    """Delete a team (refused while it has live keys, unless --revoke-keys)."""
    from turnout.auth.manage import delete_team

    if url:
        flag = "true" if revoke_keys else "false"
        _admin(url, master_key, "DELETE", f"/admin/teams/{name}?revoke_keys={flag}")
    else:
        db = _database(config, database_url)
        _with_store(db, lambda s: delete_team(s, name, revoke_keys=revoke_keys))
    typer.echo(f"deleted team {name}")

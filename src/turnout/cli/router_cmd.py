"""``turnout router``: the learned-routing loop from the command line (docs/learned-routing.md).

import → (or) export → label → train → eval → deploy → rollback. The work is done in
:mod:`turnout.router`; this module has the typer app, the options and helpers every router
command shares, and the commands that make training data (import, export, label);
:mod:`turnout.cli.router_models` trains, evaluates and lists versions,
:mod:`turnout.cli.router_deploy` deploys and rolls back. They parse options and print. Heavy
libraries (scikit-learn, NumPy, pyarrow, matplotlib) are imported by the commands that need
them, never at start.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import config_failure

if TYPE_CHECKING:
    from turnout.config.schema import TurnoutConfig

app = typer.Typer(
    help="Learned routing: labels, training, evaluation, deployment.", no_args_is_help=True
)

ConfigOpt = Annotated[
    Path | None, typer.Option("-c", "--config", help="config file", metavar="FILE")
]
RegistryOpt = Annotated[
    Path, typer.Option("--registry", help="router registry directory", metavar="DIR")
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar=["TURNOUT_API_KEY", "TURNOUT_MASTER_KEY"],
        help="gateway key for calls through the gateway",
        metavar="KEY",
    ),
]
DEFAULT_REGISTRY = Path("routers")


class CommandError(Exception):
    pass


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"turnout router: {message}", err=True)
    return typer.Exit(code)


def _config(path: Path | None) -> TurnoutConfig:
    from turnout.cli.build import build_config, config_path
    from turnout.config.load import ConfigError

    try:
        return build_config(config_path(path))
    except ConfigError as exc:
        config_failure(exc)


def _url(config: TurnoutConfig, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    host = config.server.host if config.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{config.server.port}"


def _engine(config: TurnoutConfig) -> Any:
    from turnout.storage.sql.engine import database_url, make_engine

    url = database_url(config.storage)
    if url.startswith("memory://"):
        raise _fail("labels and exports need a database (storage.url is memory://)")
    return make_engine(url)


def _when(value: str | None, default: str) -> datetime:
    from turnout.storage.query import parse_time

    return parse_time(value or default, datetime.now(UTC))


def _score_range(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    lo, sep, hi = value.partition(":")
    try:
        out = (float(lo), float(hi))
    except ValueError:
        out = (0.0, 0.0)
    if not sep or out[1] <= out[0]:
        raise _fail(f"--score-range wants LOW:HIGH, got {value!r}")
    return out


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"{what} wants NAME=VALUE, got {item!r}")
        out[key] = value
    return out


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file", metavar="SOURCE")],
    out: Annotated[Path, typer.Option("--out", "-o", help="long rows to write", metavar="FILE")],
    layout: Annotated[
        str, typer.Option(help="auto, wide, battles or long", metavar="LAYOUT")
    ] = "auto",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="DATASET_MODEL=provider/model (repeat; unmapped dropped)", metavar="MAP"
        ),
    ] = None,
    score_range: Annotated[
        str | None, typer.Option(help="scale of the scores, e.g. 1:10", metavar="SCORE_RANGE")
    ] = None,
) -> None:
    """Convert a RouterBench / RouteLLM dataset into training rows."""
    from turnout.router.dataset import DatasetError, convert, read_rows, write_rows

    try:
        rows = convert(read_rows(source), layout, _pairs(map_, "--map"), _score_range(score_range))
        write_rows(out, rows)
    except (DatasetError, OSError) as exc:
        raise _fail(str(exc)) from None
    deployments = sorted({r["deployment"] for r in rows})
    typer.echo(f"{len(rows)} rows for {len(deployments)} deployments -> {out}")


@app.command()
def export(
    out: Annotated[
        Path, typer.Option("--out", "-o", help=".jsonl, .csv or .parquet", metavar="FILE")
    ],
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="model group (repeat)", metavar="MODEL")
    ],
    config: ConfigOpt = None,
    since: Annotated[
        str | None, typer.Option(help="e.g. 7d or an ISO date", metavar="SINCE")
    ] = "30d",
    until: Annotated[str | None, typer.Option(help="end (default: now)", metavar="UNTIL")] = None,
    captures: Annotated[Path | None, typer.Option(help="capture directory", metavar="DIR")] = None,
    unlabelled: Annotated[bool, typer.Option(help="keep rows without a label")] = False,
) -> None:
    """Training rows from the request log, the captured prompts and the labels."""
    from turnout.router.dataset import write_rows
    from turnout.router.export import export as run

    cfg = _config(config)
    start = _when(since, "30d")
    end = _when(until, "0s") if until else datetime.now(UTC) + timedelta(seconds=1)

    async def go() -> tuple[list[dict[str, Any]], dict[str, int]]:
        engine = _engine(cfg)
        try:
            return await run(engine, captures or cfg.capture.dir, model, start, end, unlabelled)
        finally:
            await engine.dispose()

    try:
        rows, stats = asyncio.run(go())
        write_rows(out, rows)
    except OSError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(f"cannot read the request log: {exc}", 1) from None
    typer.echo(
        f"{stats['rows']} rows -> {out} ({stats['requests']} requests; left out: "
        f"{stats['not_answered']} not answered, {stats['no_capture']} without a capture, "
        f"{stats['unlabelled']} unlabelled{' (kept)' if unlabelled else ''})"
    )
    if stats["both"]:
        typer.echo(
            f"judge and application agree on {stats['agree']} of {stats['both']} answers "
            f"both rated ({stats['agree'] / stats['both']:.0%})"
        )


@app.command()
def label(
    judge: Annotated[
        str, typer.Option("--judge", help="the judge's public model name", metavar="JUDGE")
    ],
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="model group (repeat)", metavar="MODEL")
    ],
    config: ConfigOpt = None,
    url: Annotated[
        str | None, typer.Option(help="gateway URL (default: the config's)", metavar="URL")
    ] = None,
    key: KeyOpt = None,
    since: Annotated[str | None, typer.Option(help="e.g. 7d", metavar="SINCE")] = "30d",
    limit: Annotated[int, typer.Option(help="at most this many answers", metavar="LIMIT")] = 10_000,
    relabel: Annotated[bool, typer.Option(help="judge again answers this judge rated")] = False,
    rated: Annotated[
        bool, typer.Option(help="also judge answers the application rated (to compare)")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(help="judge calls in flight", metavar="CONCURRENCY")
    ] = 4,
) -> None:
    """Score captured answers with an LLM judge called through the gateway."""
    from turnout.router.captures import iter_captures
    from turnout.router.judge import label_all
    from turnout.router.labels import SqlLabelStore, is_feedback
    from turnout.storage.sql.engine import migrate

    cfg = _config(config)
    target = _url(cfg, url)
    source = f"judge:{judge}"
    items = list(iter_captures(cfg.capture.dir, model, _when(since, "30d")))

    async def go() -> tuple[int, Any]:
        engine = _engine(cfg)
        try:
            await migrate(engine)
            store = SqlLabelStore(engine)
            todo = items
            have = await store.get(i.request_id for i in items)

            def wanted(rid: str) -> bool:
                sources = {x.source for x in have.get(rid, [])}
                if not relabel and source in sources:
                    return False
                return rated or not any(is_feedback(s) for s in sources)

            todo = [i for i in items if wanted(i.request_id)]
            todo = todo[:limit]
            run = await asyncio.to_thread(label_all, todo, target, judge, key, concurrency)
            await store.put(run.labels)
            return len(todo), run
        finally:
            await engine.dispose()

    try:
        asked, run = asyncio.run(go())
    except Exception as exc:
        raise _fail(f"labelling failed: {exc}", 1) from None
    typer.echo(
        f"{len(run.labels)} labels from {judge} ({asked} answers judged, {run.unreadable} "
        f"ratings unreadable, {run.failed} calls failed; {len(items)} captures found)"
    )
    for error in run.errors:
        typer.echo(f"  {error}", err=True)
    if asked and not run.labels:
        raise typer.Exit(1)

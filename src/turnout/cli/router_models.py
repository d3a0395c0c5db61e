"""``turnout router train``, ``eval`` and ``list``: router versions made, scored and shown
(docs/learned-routing.md). Heavy libraries are imported by the commands, never at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from turnout.cli.router_cmd import DEFAULT_REGISTRY, KeyOpt, RegistryOpt, _fail, _pairs, app


@app.command()
def train(
    data: Annotated[
        list[Path], typer.Option("--data", "-d", help="long rows (repeat)", metavar="FILE")
    ],
    kind: Annotated[str, typer.Option(help="knn, mlp, svm or logistic", metavar="KIND")] = "knn",
    registry: RegistryOpt = DEFAULT_REGISTRY,
    test_size: Annotated[
        float, typer.Option(help="share of prompts held out", metavar="TEST_SIZE")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="split and estimator seed", metavar="SEED")] = 0,
    dims: Annotated[
        int, typer.Option(help="SVD dimensions of the text features", metavar="DIMS")
    ] = 128,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="estimator option NAME=VALUE (repeat)", metavar="PARAM"),
    ] = None,
    embeddings: Annotated[
        str | None,
        typer.Option(
            help="also embed prompts with this model, via the gateway", metavar="EMBEDDINGS"
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="gateway URL for --embeddings", metavar="URL")
    ] = None,
    key: KeyOpt = None,
    strong: Annotated[
        str | None, typer.Option(help="strong deployment for the report", metavar="STRONG")
    ] = None,
    weak: Annotated[
        str | None, typer.Option(help="weak deployment for the report", metavar="WEAK")
    ] = None,
    unsafe_pickle: Annotated[
        bool, typer.Option(help="store as a pickle (loads only with allow_pickle)")
    ] = False,
) -> None:
    """Train a router version, evaluate it on its held-out prompts, and store it."""
    from turnout.router.dataset import DatasetError, read_rows
    from turnout.router.evaluation import evaluate, render
    from turnout.router.features import FeatureConfig
    from turnout.router.store import Registry
    from turnout.router.training import train as fit

    params: dict[str, Any] = {}
    for name, value in _pairs(param, "--param").items():
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    embed = None
    if embeddings:
        from turnout.router.embeddings import HttpEmbedder

        embed = HttpEmbedder(
            url or "http://127.0.0.1:4141", embeddings, key, registry / ".embeddings"
        )
    try:
        rows = [row for path in data for row in read_rows(path)]
        features = FeatureConfig(dims=dims, embedding_model=embeddings)
        trained = fit(
            rows,
            kind,
            features=features,
            params=params,
            test_size=test_size,
            seed=seed,
            embed=embed,
        )
        report = None
        try:
            report = evaluate(trained.model, trained.heldout, strong=strong, weak=weak, embed=embed)
        except DatasetError as exc:
            typer.echo(f"(no held-out evaluation: {exc})", err=True)
        metrics = _metrics(report) if report else {}
        store = Registry(registry)
        number = store.save(
            trained.model,
            metrics=metrics,
            data=trained.data,
            training=trained.training,
            heldout=trained.heldout,
            unsafe_pickle=unsafe_pickle,
        )
    except (DatasetError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    if report is not None:
        report["version"] = trained.model.version
        typer.echo(render(report))
    typer.echo(
        f"stored {trained.model.version} in {registry} "
        f"({trained.data['train_prompts']} training prompts)"
    )
    _ = number


def _metrics(report: dict[str, Any]) -> dict[str, Any]:
    curves = report["curves"]
    return {
        "weak": report["weak"],
        "strong": report["strong"],
        "paired_prompts": report["paired_prompts"],
        "quality": report["quality"],
        "cost_per_call": report["cost_per_call"],
        **{
            f"{name}_{m}": curves[name][m]
            for name in ("router", "tradeoff", "oracle")
            for m in ("apgr", "cpt50", "cpt80")
        },
        "random_apgr": curves["random"]["apgr"],
    }


@app.command("eval")
def eval_(
    version: Annotated[
        str, typer.Argument(help="version: 3, v0003 or latest", metavar="VERSION")
    ] = "latest",
    registry: RegistryOpt = DEFAULT_REGISTRY,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="rows to score (default: held-out)", metavar="FILE"),
    ] = None,
    strong: Annotated[str | None, typer.Option(help="strong deployment", metavar="STRONG")] = None,
    weak: Annotated[str | None, typer.Option(help="weak deployment", metavar="WEAK")] = None,
    out: Annotated[
        Path | None, typer.Option(help="directory for eval.json and eval.png", metavar="FILE")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="gateway URL (routers with embeddings)", metavar="URL")
    ] = None,
    key: KeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report")] = False,
) -> None:
    """The cost-quality curve against random and the fixed choices, with APGR and CPT."""
    from turnout.router.dataset import DatasetError, read_rows
    from turnout.router.evaluation import evaluate, render
    from turnout.router.plot import png
    from turnout.router.store import Registry, RouterStoreError

    store = Registry(registry)
    try:
        number = store.resolve(version)
        model = store.load(number, allow_pickle=False)
        rows = [r for p in data for r in read_rows(p)] if data else store.heldout(number)
        embed = None
        if model.features.wants_embedding and model.features.config.embedding_model:
            from turnout.router.embeddings import HttpEmbedder

            embed = HttpEmbedder(
                url or "http://127.0.0.1:4141",
                model.features.config.embedding_model,
                key,
                registry / ".embeddings",
            )
        report = evaluate(model, rows, strong=strong, weak=weak, embed=embed)
        report["data"] = [str(p) for p in data] if data else "held-out"
        blob = (json.dumps(report, indent=2) + "\n").encode()
        image = png(report)
        if out is None:
            json_path = store.write_extra(number, "eval.json", blob)
            png_path = store.write_extra(number, "eval.png", image)
        else:
            out.mkdir(parents=True, exist_ok=True)
            json_path, png_path = out / "eval.json", out / "eval.png"
            json_path.write_bytes(blob)
            png_path.write_bytes(image)
    except (RouterStoreError, DatasetError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(blob.decode() if as_json else render(report))
    typer.echo(f"wrote {json_path} and {png_path}", err=as_json)


@app.command("list")
def list_(registry: RegistryOpt = DEFAULT_REGISTRY) -> None:
    """The stored router versions, newest last, with their held-out figures."""
    from turnout.router.store import Registry, RouterStoreError

    store = Registry(registry)
    for number in store.versions():
        try:
            m = store.manifest(number)
        except RouterStoreError as exc:
            typer.echo(f"v{number:04d}  unreadable: {exc}")
            continue
        metrics = m.get("metrics") or {}
        data = m.get("data") or {}
        typer.echo(
            f"{m['version']}  {m['kind']:<8} {m['created']}  APGR {metrics.get('router_apgr', '-')}"
            f"  CPT80 {metrics.get('router_cpt80', '-')}  prompts {data.get('prompts', '-')}"
            f"  {str(data.get('fingerprint', ''))[:19]}"
            f"{'  (pickle)' if m.get('storage') == 'pickle' else ''}"
        )

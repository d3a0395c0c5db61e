"""``turnout serve``: run the gateway (uvicorn, uvloop, httptools)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from turnout.cli.build import build_config, config_path
from turnout.config.compile import compile_config
from turnout.config.load import ConfigError
from turnout.config.schema import TurnoutConfig
from turnout.observability.logging import configure_logging

CONFIG_ENV = "TURNOUT_RUNTIME_CONFIG"


def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="config file (or TURNOUT_CONFIG)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 4141)")] = None,
    demo: Annotated[bool, typer.Option(help="add the built-in mock provider")] = False,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="proxy every model to this upstream")
    ] = None,
    upstream_type: Annotated[
        str, typer.Option("--type", help="provider type of --base-url")
    ] = "openai-compatible",
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="key for --base-url", envvar="UPSTREAM_API_KEY")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes sharing the port")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug|info|warning|error")] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="run the health keeper inside the gateway")
    ] = False,
) -> None:
    """Start the gateway."""
    try:
        cfg = build_config(
            config_path(config),
            demo=demo,
            base_url=base_url,
            upstream_type=upstream_type,
            api_key=api_key,
            server={"host": host, "port": port, "workers": workers},
        )
    except ConfigError as exc:
        typer.echo(f"turnout: invalid configuration ({exc.source}):", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    if log_level:
        cfg = cfg.model_copy(
            update={"logging": cfg.logging.model_copy(update={"level": log_level})}
        )
    if with_worker:
        cfg = cfg.model_copy(update={"health": cfg.health.model_copy(update={"keeper": True})})
    run(cfg)


def run(cfg: TurnoutConfig) -> None:
    import uvicorn

    server = cfg.server
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        # httptools, with header limits, read timeouts and cancellation on disconnect
        # (docs/security.md); no WebSocket upgrades.
        "http": "turnout.server.protocol:GatewayProtocol",
        "ws": "none",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,  # X-Forwarded-* rewriting costs every request; off unless needed
        "timeout_graceful_shutdown": server.drain_timeout,
        # 0 turns the idle timeout off: uvicorn's own keep-alive timer then waits a day.
        "timeout_keep_alive": server.idle_timeout or 86400,
        "limit_concurrency": server.max_concurrency,
        "backlog": 4096,
        "log_level": cfg.logging.level,
    }
    # Workers rebuild the app from the validated config handed over in the environment, so
    # every process serves exactly what was checked here.
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    # uvicorn re-raises the signal that stopped it once it has drained; with these handlers
    # in place that ends here instead of killing the process, so a drained stop exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    # SIGHUP never kills the gateway; once serving it is logged (turnout.app).
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if server.workers > 1:
        uvicorn.run(
            "turnout.cli.serve:app_from_env", factory=True, workers=server.workers, **options
        )
    else:
        configure_logging(cfg.logging.level)
        from turnout.app import create_app

        uvicorn.run(create_app(compile_config(cfg)), **options)


def app_from_env() -> object:
    """Factory used by each worker process."""
    from turnout.app import create_app

    cfg = TurnoutConfig.model_validate_json(os.environ[CONFIG_ENV])
    configure_logging(cfg.logging.level)
    return create_app(compile_config(cfg))

"""``turnout serve``: run the gateway (uvicorn, uvloop, httptools).

Everything that can be refused is refused before anything is started: an invalid config or
log level, a config that routes to no provider, a port already in use. Only then is the
database opened and migrated, so a second ``turnout serve`` on a busy port says so at once
instead of after a migration and a start-up that cannot serve.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from turnout.cli.output import config_failure, fail

if TYPE_CHECKING:
    from turnout.config.schema import TurnoutConfig
    from turnout.live.source import ConfigSource

CONFIG_ENV = "TURNOUT_RUNTIME_CONFIG"
LOG_LEVELS = ("debug", "info", "warning", "error")


def check_log_level(value: str | None) -> str | None:
    """Refuse an unknown level as a usage error (not a traceback from the logging setup)."""
    if value is not None and value not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value


def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(metavar="HOST", help="Bind address (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port (default 4141).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Add the built-in mock provider (no key needed).")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", metavar="URL", help="Proxy every model name to this upstream."),
    ] = None,
    upstream_type: Annotated[
        str,
        typer.Option(
            "--type",
            metavar="TYPE",
            help="Provider type of --base-url: openai, openai-compatible, anthropic, gemini.",
        ),
    ] = "openai-compatible",
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            envvar="UPSTREAM_API_KEY",
            show_envvar=True,
            help="Key for --base-url.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Processes sharing the port (default 1).")
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            metavar="LEVEL",
            callback=check_log_level,
            help="debug, info, warning or error (default info).",
        ),
    ] = None,
    with_worker: Annotated[
        bool,
        typer.Option("--with-worker", help="Run the health keeper (key probes) in the gateway."),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch/--no-watch", help="Reload when the config file changes (default: on)."
        ),
    ] = True,
) -> None:
    """Start the gateway."""
    from turnout.cli.build import config_path, no_providers
    from turnout.cli.preflight import startup_problems, startup_warnings
    from turnout.config.load import ConfigError
    from turnout.live.source import ConfigSource

    path = config_path(config)
    source = ConfigSource(
        path=str(path) if path is not None else None,
        demo=demo,
        base_url=base_url,
        upstream_type=upstream_type,
        api_key=api_key,
        server={"host": host, "port": port, "workers": workers},
        log_level=log_level,
        keeper=with_worker,
        watch=watch,
    )
    try:
        cfg = source.load()
        problems = startup_problems(cfg)
        if problems:
            raise ConfigError(problems, "environment and config")
    except ConfigError as exc:
        config_failure(exc)
    for warning in startup_warnings(cfg):
        typer.secho(f"turnout: warning: {warning}", err=True, fg="yellow")
    missing = no_providers(cfg, path)
    if missing is not None and path is None:
        raise fail(str(missing), 2)
    if missing is not None:
        # A file may rely on providers added later (admin API): start, but say it.
        typer.secho(f"turnout: warning: {missing}", err=True, fg="yellow")
    busy = port_problem(cfg.server.host, cfg.server.port)
    if busy is not None:
        raise fail(busy, 1)
    run(cfg, source)


def port_problem(host: str, port: int) -> str | None:
    """Why the gateway could not listen on ``host:port`` (checked with the same socket options
    uvicorn uses), or None. A race with another process remains possible; the common case, a
    second gateway or another server already there, is reported before anything starts."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = " (choose another with --port)" if exc.errno == errno.EADDRINUSE else ""
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
    return None


def run(cfg: TurnoutConfig, source: ConfigSource | None = None) -> None:
    import uvicorn

    from turnout.live.source import SOURCE_ENV
    from turnout.observability.logging import configure_logging

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
        # The idle timeout is the protocol's (turnout.server.protocol); uvicorn's keep-alive
        # timer is never armed by it.
        "timeout_keep_alive": server.idle_timeout or 86400,
        "limit_concurrency": server.max_concurrency,
        "backlog": 4096,
        "log_level": cfg.logging.level,
        "log_config": None,  # uvicorn's records go through our handler (configure_logging)
    }
    # Workers rebuild the app from the validated config handed over in the environment, so
    # every process serves exactly what was checked here.
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    if source is not None:  # and where a reload reads it again (turnout.live)
        os.environ[SOURCE_ENV] = source.dumps()
    # uvicorn re-raises the signal that stopped it once it has drained; with these handlers
    # in place that ends here instead of killing the process, so a drained stop exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    # SIGHUP never kills the gateway; once serving it reloads the config (turnout.app).
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging(cfg.logging.level, cfg.logging.format)
    if server.workers == 1:  # each worker limits its own (app_from_env)
        from turnout.allocator import limit_arenas

        limit_arenas()
    if server.workers > 1:
        from turnout.live import workers

        # The workers report their config versions here, and SIGHUP reaches them all.
        directory = workers.prepare_supervisor()
        config = uvicorn.Config(
            "turnout.cli.serve:app_from_env", factory=True, workers=server.workers, **options
        )
        workers.run_workers(config, directory)
    else:
        from turnout.app import create_app
        from turnout.config.compile import compile_config

        uvicorn.run(create_app(compile_config(cfg), source), **options)


def app_from_env() -> object:
    """Factory used by each worker process."""
    from turnout.allocator import limit_arenas
    from turnout.app import create_app
    from turnout.config.compile import compile_config
    from turnout.config.schema import TurnoutConfig
    from turnout.live.source import SOURCE_ENV, ConfigSource
    from turnout.observability.logging import configure_logging, get_logger

    limit_arenas()
    cfg = TurnoutConfig.model_validate_json(os.environ[CONFIG_ENV])
    configure_logging(cfg.logging.level, cfg.logging.format)
    raw = os.environ.get(SOURCE_ENV)
    source = ConfigSource.loads(raw) if raw else None
    runtime = None
    if source is not None and source.file is not None:
        # A worker the supervisor restarts (it died, or missed a ping) starts after the other
        # workers may have reloaded: it reads the file as it is now, like a reload would, or
        # serves the config checked at start when the file cannot be used.
        try:
            runtime = compile_config(source.load())
        except Exception as exc:  # the start config is valid; serve it, say why
            get_logger("turnout.live").error(
                "worker starts on the config checked at start: the file cannot be used",
                error=str(exc)[:1000],
            )
    return create_app(compile_config(cfg) if runtime is None else runtime, source)

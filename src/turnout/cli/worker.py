"""``turnout worker``: run the health keeper on its own.

With ``--once`` it probes every key once, prints a table and exits non-zero if any key is
invalid or out of quota: a quick check of a config's keys. Without it, it probes forever and
saves outcomes to the health state store. Until the storage layer gives that store a shared
backend, only a gateway started with ``serve --with-worker`` acts on what the keeper finds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from turnout.cli.build import build_config, config_path
from turnout.config.compile import compile_config
from turnout.config.load import ConfigError
from turnout.health.breaker import INVALID, NO_QUOTA
from turnout.health.keeper import HealthKeeper, ProbeResult
from turnout.health.service import HealthService
from turnout.observability.logging import configure_logging
from turnout.outbound import OutboundPolicy
from turnout.providers.registry import build_provider
from turnout.upstream.pooled import PooledClient


def results_table(results: list[ProbeResult]) -> Table:
    table = Table(title="Key probes")
    for column in ("key", "model", "outcome", "state", "ms"):
        table.add_column(column)
    for r in results:
        table.add_row(r.key_id, r.model, r.outcome, r.state, f"{r.latency * 1000:.0f}")
    return table


async def _run(cfg_path: Path | None, once: bool) -> int:
    runtime = compile_config(build_config(cfg_path))
    client = PooledClient(OutboundPolicy.from_config(runtime.config.outbound))
    providers = {n: build_provider(s, client) for n, s in runtime.providers.items()}
    service = HealthService(runtime)
    try:
        if once:
            keeper = HealthKeeper(
                service.board,
                providers,
                runtime.config.health,
                runtime.config.routing.cooldowns,
            )
            results = await keeper.probe_all()
            service.board.journal.events.clear()  # the table says it all; no log lines
            await service.flush()
            Console().print(results_table(results))
            for skipped in keeper.skipped:
                Console(stderr=True).print(f"not probed: {skipped} (set probe_model)")
            return 1 if any(r.state in (INVALID, NO_QUOTA) for r in results) else 0
        await service.start(providers, keeper=True)
        await asyncio.Event().wait()  # until interrupted
        return 0
    finally:
        await service.stop()
        for provider in providers.values():
            await provider.close()
        await client.close()


def worker(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="config file (or TURNOUT_CONFIG)")
    ] = None,
    once: Annotated[bool, typer.Option(help="probe every key once, print, exit")] = False,
    log_level: Annotated[str, typer.Option(help="debug|info|warning|error")] = "info",
) -> None:
    """Run the health keeper: probe every provider key on an interval."""
    configure_logging(log_level)
    try:
        code = asyncio.run(_run(config_path(config), once))
    except ConfigError as exc:
        typer.echo(f"turnout: invalid configuration ({exc.source}):", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)

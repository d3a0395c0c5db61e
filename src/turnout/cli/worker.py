"""``turnout worker``: run the health keeper on its own.

With ``--once`` it probes every key once, prints a table and exits non-zero if any key is
invalid or out of quota: a quick check of a config's keys. Without it, it probes forever while
it holds the keeper lease, saves outcomes to the database (the durable copy, read by gateways
when they start) and, with ``shared.backend: redis``, publishes them to every running gateway,
which skip a key found revoked within about ``shared.sync_interval``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from turnout.cli.output import config_failure, new_table, print_tables
from turnout.cli.serve import check_log_level

if TYPE_CHECKING:
    from rich.table import Table

    from turnout.config.schema import TurnoutConfig
    from turnout.health.keeper import ProbeResult
    from turnout.health.store import HealthStore


def results_table(results: list[ProbeResult]) -> Table:
    table = new_table("Key probes", ("key", "model", "outcome", "state", "ms"), right=("ms",))
    for r in results:
        table.add_row(r.key_id, r.model, r.outcome, r.state, f"{r.latency * 1000:.0f}")
    return table


async def _run(cfg_path: Path | None, once: bool) -> int:
    from turnout.cli.build import build_config
    from turnout.config.compile import compile_config
    from turnout.health.breaker import INVALID, NO_QUOTA
    from turnout.health.keeper import HealthKeeper
    from turnout.health.service import HealthService
    from turnout.outbound import OutboundPolicy
    from turnout.providers.registry import build_provider
    from turnout.upstream.pooled import PooledClient

    runtime = compile_config(build_config(cfg_path))
    client = PooledClient(OutboundPolicy.from_config(runtime.config.outbound))
    providers = {n: build_provider(s, client) for n, s in runtime.providers.items()}
    store = None if once else await _durable_store(runtime.config)
    service = HealthService(runtime, store, role="worker")
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
            print_tables(results_table(results), empty="no keys to probe")
            for skipped in keeper.skipped:
                typer.echo(f"not probed: {skipped} (set probe_model)", err=True)
            return 1 if any(r.state in (INVALID, NO_QUOTA) for r in results) else 0
        await service.start(providers, keeper=True)
        await asyncio.Event().wait()  # until interrupted
        return 0
    finally:
        await service.stop()
        for provider in providers.values():
            await provider.close()
        await client.close()


async def _durable_store(cfg: TurnoutConfig) -> HealthStore | None:
    """The database's health store (migrated if need be), or None without storage."""
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import database_url, migrate

    if not cfg.storage.enabled:
        return None
    url = database_url(cfg.storage)
    stores = backend_for(url).open(url)
    if stores.engine is not None:
        try:
            await migrate(stores.engine)
        except Exception as exc:  # probing goes on; saving will say what fails
            typer.echo(f"turnout: warning: database not migrated: {exc}", err=True)
    return stores.health


def worker(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", metavar="FILE", help="Config file (or TURNOUT_CONFIG)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Probe every key once, print a table and exit.")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            metavar="LEVEL", callback=check_log_level, help="debug, info, warning or error."
        ),
    ] = "info",
) -> None:
    """Run the health keeper: probe every provider key on an interval."""
    from turnout.cli.build import config_path
    from turnout.config.load import ConfigError
    from turnout.observability.logging import configure_logging

    configure_logging(log_level)
    try:
        code = asyncio.run(_run(config_path(config), once))
    except ConfigError as exc:
        config_failure(exc)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)

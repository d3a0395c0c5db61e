"""Request-log benchmark: insert a million rows, and watch insert rate and query times as the
table grows.

Rows are inserted through the same store the gateway's writer uses (``COPY`` on PostgreSQL,
``executemany`` on SQLite), in batches of ``--batch``; every ``--step`` rows simulate one more
day of traffic. After each step it times (median of 3) the usage report for the newest day,
for the newest hour, and the first page of ``/admin/logs`` filtered by model; those must stay
flat while the table grows, because each reads one day (one partition on PostgreSQL) through
the ``ts``-leading indexes, whatever the table's size.

    uv run python bench/storage_bench.py                      # both backends, 1M rows each
    uv run python bench/storage_bench.py --backend sqlite --rows 200000
    uv run python bench/storage_bench.py --overhead           # req/s with the log on vs off
    TURNOUT_BENCH_PG=postgresql://postgres@host:5432/db uv run python bench/storage_bench.py

PostgreSQL gets a database of its own on that server (created, then dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from turnout.storage.query import LogQuery, UsageQuery
from turnout.storage.rows import COLUMNS, Row, new_id
from turnout.storage.sql import partitions
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore

ADMIN = os.environ.get("TURNOUT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MODELS = [f"model-{i}" for i in range(20)]
PROVIDERS = [f"provider-{i}" for i in range(5)]


def make_rows(n: int, day: datetime, rng: random.Random) -> list[Row]:
    rows = []
    for i in range(n):
        model = rng.choice(MODELS)
        provider = rng.choice(PROVIDERS)
        failed = rng.random() < 0.02
        values: dict[str, Any] = {
            "ts": day + timedelta(seconds=86400 * i / n),
            "id": new_id(),
            "request_id": uuid.uuid4().hex,
            "gateway_key": f"gk-{rng.randrange(50)}",
            "team": f"team-{rng.randrange(10)}",
            "protocol": "openai",
            "operation": "chat",
            "model": model,
            "provider": provider,
            "deployment": f"{provider}/{model}",
            "key_id": f"{rng.randrange(1 << 40):010x}",
            "attempts": 1,
            "attempt_log": None,
            "status": 500 if failed else 200,
            "error": "server_error" if failed else None,
            "latency_ms": rng.lognormvariate(6, 0.8),
            "ttft_ms": rng.lognormvariate(5, 0.6),
            "input_tokens": None if failed else rng.randrange(10, 4000),
            "output_tokens": None if failed else rng.randrange(1, 1000),
            "cached_tokens": 0,
            "reasoning_tokens": 0,
            "cost": None if failed else rng.random() / 100,
            "stream": rng.random() < 0.5,
            "cache_hit": False,
            "fallback": None,
        }
        rows.append(tuple(values[c] for c in COLUMNS))
    return rows


async def timed(fn: Callable[[Any], Awaitable[Any]], arg: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def bench(url: str, label: str, total: int, step: int, batch: int) -> None:
    engine = make_engine(url)
    await migrate(engine)
    store = SqlLogStore(engine)
    days = total // step
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=days
    )
    if store.postgres:
        await partitions.ensure(engine, days + 1, first.date())
    rng = random.Random(7)
    print(f"\n{label}: {total:,} rows, {step:,} per simulated day, batches of {batch}")
    print(
        f"{'rows':>10} {'insert rows/s':>14} {'usage day ms':>13} {'usage hour ms':>14} "
        f"{'logs page ms':>13}"
    )
    inserted = 0
    for d in range(days):
        day = first + timedelta(days=d)
        rows = make_rows(step, day, rng)
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            await store.insert(rows[i : i + batch])
        rate = len(rows) / (time.perf_counter() - start)
        inserted += len(rows)
        end = day + timedelta(days=1)
        usage_day = await timed(store.usage, UsageQuery("model", day, end))
        usage_hour = await timed(store.usage, UsageQuery("model", end - timedelta(hours=1), end))
        page = await timed(store.logs, LogQuery(end=end, filters={"model": "model-3"}, limit=50))
        print(
            f"{inserted:>10,} {rate:>14,.0f} {usage_day:>13.1f} {usage_hour:>14.1f} {page:>13.1f}"
        )
    replay = make_rows(20_000, first, rng)
    await store.insert(replay[:10_000])
    start = time.perf_counter()
    for i in range(0, len(replay), batch):
        await store.insert_again(replay[i : i + batch])
    rate = len(replay) / (time.perf_counter() - start)
    print(f"replay (insert skipping duplicates, half already stored): {rate:,.0f} rows/s")
    await engine.dispose()


@contextlib.asynccontextmanager
async def _database() -> AsyncIterator[str]:
    """A database of our own on the benchmark server, dropped afterwards."""
    name = f"sy_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--overhead", action="store_true", help="gateway req/s, log on vs off")
    parser.add_argument("--seconds", type=int, default=5, help="--overhead: wrk seconds")
    parser.add_argument("--rounds", type=int, default=2, help="--overhead: interleaved rounds")
    args = parser.parse_args()
    if args.overhead:
        from storage_overhead import run

        if args.backend == "sqlite":
            run(args.seconds, None, args.rounds)
            return
        async with _database() as url:
            await asyncio.to_thread(run, args.seconds, url, args.rounds)
        return
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            await bench(
                f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", args.rows, args.step, args.batch
            )
    if args.backend in ("postgres", "both"):
        async with _database() as url:
            await bench(url, "PostgreSQL", args.rows, args.step, args.batch)


if __name__ == "__main__":
    asyncio.run(main())

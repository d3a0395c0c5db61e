"""Dashboard benchmark: every query the dashboard makes, over a request log of a million rows.

Rows are inserted through the writer's own store (``SqlLogStore.insert``, which also fills the
rollup tables in the same transactions), 100,000 per simulated day over ten days ending now,
with realistic spread: 12 models on 22 deployments of 5 providers, 40 keys in 8 teams, three
protocols, 40% streams, 2% errors, 5% cache hits. Then each dashboard query is timed through
the same function its admin endpoint calls (median of ``--repeat`` runs, after one warm-up),
on SQLite and on PostgreSQL, and compared with the 200 ms target. The insert rate is printed
too, and with ``--writes`` the cost of the rollups on inserts (the same rows with and without).

    uv run python bench/dashboard_bench.py                       # both backends, 1M rows
    uv run python bench/dashboard_bench.py --backend sqlite --rows 200000
    TURNOUT_BENCH_PG=postgresql://postgres@host:5432/db uv run python bench/dashboard_bench.py

PostgreSQL gets a database of its own on that server (created, then dropped). Run it on a
quiet machine: the figures are wall-clock times.
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

from turnout.storage.query import Cursor, LogQuery
from turnout.storage.rows import COLUMNS, Row, new_id
from turnout.storage.sql import logs as sql_logs
from turnout.storage.sql import partitions
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.logs import SqlLogStore
from turnout.storage.stats import overview, plan, series_report

ADMIN = os.environ.get("TURNOUT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_MS = 200.0
SCAN = 10_000  # the admin endpoint's bounded scan (turnout.api.admin.logs.SCAN)
PROVIDERS = [f"provider-{i}" for i in range(5)]
MODELS = [f"model-{i}" for i in range(12)]
KEYS = [(f"key_{i:04x}", f"team-{i % 8}") for i in range(40)]


def deployments() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, model in enumerate(MODELS):
        count = 1 + (n % 3 == 0) + (n % 5 == 0)
        out[model] = [f"{PROVIDERS[(n + j) % 5]}/{model}-up{j}" for j in range(count)]
    return out


def make_rows(n: int, start: datetime, seconds: float, rng: random.Random) -> list[Row]:
    routes = deployments()
    weights = [1 / (i + 1) for i in range(len(KEYS))]  # a few keys do most of the traffic
    rows = []
    for i in range(n):
        model = MODELS[min(int(rng.expovariate(0.35)), len(MODELS) - 1)]
        deployment = rng.choice(routes[model])
        key, team = rng.choices(KEYS, weights)[0] if rng.random() > 0.05 else (None, None)
        roll = rng.random()
        failed = roll < 0.02
        hit = not failed and roll > 0.95
        stream = rng.random() < 0.4
        tokens_in = None if failed else rng.randrange(10, 4000)
        tokens_out = None if failed else rng.randrange(1, 1000)
        values: dict[str, Any] = {
            "ts": start + timedelta(seconds=seconds * i / n),
            "id": new_id(),
            "request_id": uuid.uuid4().hex,
            "gateway_key": key,
            "team": team,
            "protocol": rng.choices(("openai", "anthropic", "gemini"), (7, 2, 1))[0],
            "operation": "chat",
            "model": model,
            "provider": deployment.split("/")[0],
            "deployment": None if hit else deployment,
            "key_id": f"{rng.randrange(1 << 20):06x}",
            "attempts": 1,
            "attempt_log": None,
            "status": rng.choice((500, 502, 504, 429)) if failed else 200,
            "error": rng.choice(("server_error", "timeout", "rate_limited")) if failed else None,
            "latency_ms": 0.8 if hit else rng.lognormvariate(6, 0.8),
            "ttft_ms": rng.lognormvariate(5, 0.6) if stream else None,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cached_tokens": 0 if failed else rng.randrange(0, 200),
            "reasoning_tokens": 0,
            "cost": None if failed else (0.0 if hit else (tokens_in or 0) * 2.5e-6),
            "stream": stream,
            "cache_hit": hit,
            "fallback": None,
        }
        # Columns of calls the bench does not make (guardrails, A2A tasks) stay NULL.
        rows.append(tuple(values.get(c) for c in COLUMNS))
    return rows


async def insert_all(store: SqlLogStore, rows: list[Row], batch: int) -> tuple[float, float]:
    """Rows per second through the writer's insert path, and this process's CPU µs per row
    (all of SQLite's work; the client side of PostgreSQL's)."""
    started, used = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), batch):
        await store.insert(rows[i : i + batch])
    cpu = (time.process_time() - used) / len(rows) * 1e6
    return len(rows) / (time.perf_counter() - started), cpu


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds of this process (CPU includes SQLite's work,
    done in this process; not PostgreSQL's, done in its server)."""
    await fn()  # warm-up: connections, plans, caches
    wall, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        await fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def queries(store: SqlLogStore, now: datetime) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    """Every query the dashboard's pages make (the endpoint functions they call)."""
    out: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    for window in (900, 3600, 6 * 3600):
        out.append((f"overview {window // 60} min", lambda w=window: overview(store, now, w)))
    for span in ("1h", "6h", "24h", "7d", "30d"):
        unit = span[-1]
        delta = timedelta(hours=int(span[:-1])) if unit == "h" else timedelta(days=int(span[:-1]))
        for group in ("model", "provider", "deployment", "key", "team"):
            query = plan(group, now - delta, now)
            out.append((f"usage {span} by {group}", lambda q=query: series_report(store, q)))

    def page(**kw: Any) -> Callable[[], Awaitable[Any]]:
        return lambda: store.logs(LogQuery(limit=50, scan=SCAN, **kw))

    day = now - timedelta(days=1)
    out += [
        ("log: newest page", page()),
        ("log: 24 h by model", page(start=day, filters={"model": "model-3"})),
        ("log: by key", page(filters={"gateway_key": KEYS[20][0]})),
        ("log: failed only", page(errors_only=True)),
        ("log: error reason", page(filters={"error": "timeout"})),
        ("log: streams, gemini", page(filters={"stream": True, "protocol": "gemini"})),
        ("log: no match (bounded)", page(filters={"protocol": "none"})),
        ("log: by request id", page(filters={"request_id": "no-such-id"})),
    ]
    return out


async def deep_page(store: SqlLogStore) -> tuple[float, float]:
    """The 200th page (10,000 rows deep): keyset paging costs what the first page costs."""
    cursor = None
    for _ in range(199):
        page = await store.logs(LogQuery(limit=50, cursor=cursor))
        assert page.next_cursor is not None
        cursor = Cursor.decode(page.next_cursor)
    last = cursor
    return await timed(lambda: store.logs(LogQuery(limit=50, cursor=last)), 3)


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name = f"dashbench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = ADMIN.rsplit("/", 1)[0]
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_backend(backend: str, rows: list[Row], args: argparse.Namespace) -> dict[str, Any]:
    async with database(backend) as url:
        engine = make_engine(url)
        try:
            await migrate(engine)
            if backend == "postgres":
                first = rows[0][0].date()
                days = (rows[-1][0].date() - first).days + 2
                await partitions.ensure(engine, days, today=first)
            store = SqlLogStore(engine)
            rate = await insert_all(store, rows, args.batch)
            now = rows[-1][0] + timedelta(seconds=1)
            results = {name: await timed(fn, args.repeat) for name, fn in queries(store, now)}
            results["log: page 200 (keyset)"] = await deep_page(store)
            writes = await compare_writes(store, args) if args.writes else None
            return {"insert_rate": rate, "queries": results, "writes": writes}
        finally:
            await engine.dispose()


async def compare_writes(
    store: SqlLogStore, args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    """Rows/s for fresh rows at 1,000 requests a second (a batch spans two seconds, as the
    writer's batches do under load), with the rollups and without them."""
    rng = random.Random(99)
    start = datetime.now(UTC) - timedelta(days=20)
    rows = make_rows(100_000, start, 100.0, rng)
    with_rollups = await insert_all(store, rows, args.batch)
    original = sql_logs.aggregate
    sql_logs.aggregate = lambda rows: original([])  # type: ignore[assignment]
    try:
        rows = make_rows(100_000, start - timedelta(hours=1), 100.0, rng)
        without = await insert_all(store, rows, args.batch)
    finally:
        sql_logs.aggregate = original
    return {"with": with_rollups, "without": without}


def report(results: dict[str, dict[str, Any]], rows: int, load: tuple[float, float]) -> None:
    backends = list(results)
    print(f"\nrequest log of {rows:,} rows; median query times in ms (target {TARGET_MS:.0f})")
    print(f"  load average before {load[0]:.2f}, after {load[1]:.2f}, on {os.cpu_count()} cores")
    for b in backends:
        rate, cpu = results[b]["insert_rate"]
        print(f"  {b}: inserted {rate:,.0f} rows/s with rollups ({cpu:.1f} µs CPU/row here)")
        writes = results[b]["writes"]
        if writes:
            (w_rate, w_cpu), (o_rate, o_cpu) = writes["with"], writes["without"]
            print(
                f"  {b}: 100k rows at 1,000/s: with rollups {w_rate:,.0f} rows/s, {w_cpu:.1f} µs "
                f"CPU/row; without {o_rate:,.0f} rows/s, {o_cpu:.1f} µs CPU/row"
            )
    header = f"{'query':<28}" + "".join(f"{b + ' ms':>14}{'cpu':>7}" for b in backends)
    print("\n" + header + "\n" + "-" * len(header))
    worst = 0.0
    for name in results[backends[0]]["queries"]:
        cells = []
        for b in backends:
            ms, cpu = results[b]["queries"][name]
            worst = max(worst, ms)
            cells.append(f"{ms:>13.1f}{' ' if ms < TARGET_MS else '!'}{cpu:>7.1f}")
        print(f"{name:<28}" + "".join(cells))
    verdict = "every query under" if worst < TARGET_MS else "SOME QUERIES OVER"
    print(f"\nslowest {worst:.1f} ms: {verdict} {TARGET_MS:.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--writes", action="store_true", help="also the rollups' insert cost")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rng = random.Random(7)
    now = datetime.now(UTC)
    print(f"generating {args.rows:,} rows over {args.days} days ending now ...", flush=True)
    rows = make_rows(args.rows, now - timedelta(days=args.days), args.days * 86400.0, rng)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = {}
    for backend in backends:
        print(f"{backend}: inserting and querying ...", flush=True)
        results[backend] = await run_backend(backend, rows, args)
    report(results, args.rows, (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    asyncio.run(main())

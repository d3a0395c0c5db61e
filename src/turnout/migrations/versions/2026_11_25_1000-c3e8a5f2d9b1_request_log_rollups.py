"""Rollups of the request log for the dashboard, filled from the rows already stored.

Revision ID: c3e8a5f2d9b1
Revises: b7d4e1f09a2c
Create Date: 2026-11-25 10:00:00

The tables are summed by the writer from now on (turnout.storage.rollup); this revision also
sums every row already in the request log, in SQL, so charts and ``/admin/usage`` agree from
the first start. On a large log that takes a while (about a second per million rows on
SQLite): run ``turnout db upgrade`` before starting the new version if that matters.
The histogram bins are frozen here: they are stored numbers, and the writer must agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e8a5f2d9b1"
down_revision: str | None = "b7d4e1f09a2c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = (
    ("requests", "count(*)"),
    ("errors", "sum(CASE WHEN status >= 400 OR error IS NOT NULL THEN 1 ELSE 0 END)"),
    ("streams", "sum(CASE WHEN stream THEN 1 ELSE 0 END)"),
    ("cache_hits", "sum(CASE WHEN cache_hit THEN 1 ELSE 0 END)"),
    ("input_tokens", "coalesce(sum(input_tokens), 0)"),
    ("output_tokens", "coalesce(sum(output_tokens), 0)"),
    ("cached_tokens", "coalesce(sum(cached_tokens), 0)"),
    ("reasoning_tokens", "coalesce(sum(reasoning_tokens), 0)"),
    ("cost", "coalesce(sum(cost), 0.0)"),
    ("priced", "count(cost)"),
    ("unpriced", "sum(CASE WHEN cost IS NULL AND input_tokens IS NOT NULL THEN 1 ELSE 0 END)"),
    ("latency_ms_sum", "coalesce(sum(latency_ms), 0.0)"),
    ("ttft_ms_sum", "coalesce(sum(ttft_ms), 0.0)"),
    ("ttft_count", "count(ttft_ms)"),
)
FLOATS = ("cost", "latency_ms_sum", "ttft_ms_sum")
BOUNDS = tuple(2.0 ** (i / 4) for i in range(96))


def _measure_columns() -> list[sa.Column[object]]:
    return [
        sa.Column(name, sa.Float() if name in FLOATS else sa.BigInteger(), nullable=False)
        for name, _ in MEASURES
    ]


def _rollup(name: str, *dims: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        *(sa.Column(d, sa.String(), nullable=False) for d in dims),
        *_measure_columns(),
        sa.PrimaryKeyConstraint("bucket", *dims, name=f"pk_{name}"),
    )


def _bin(column: str, lo: int = 0, hi: int = len(BOUNDS)) -> str:
    """bisect_left(BOUNDS, column) as a balanced CASE: seven comparisons per row."""
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    return (
        f"CASE WHEN {column} <= {BOUNDS[mid]!r} THEN {_bin(column, lo, mid)} "
        f"ELSE {_bin(column, mid + 1, hi)} END"
    )


def upgrade() -> None:
    _rollup("route_minute", "model", "provider", "deployment")
    _rollup("route_hour", "model", "provider", "deployment")
    _rollup("caller_hour", "gateway_key", "team")
    op.create_table(
        "latency_minute",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.SmallInteger(), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "metric", "bin", name="pk_latency_minute"),
    )
    _backfill()


def _backfill() -> None:
    if op.get_bind().dialect.name == "postgresql":
        epoch = "CAST(floor(extract(epoch FROM ts)) AS BIGINT)"
    else:
        epoch = "CAST(strftime('%s', ts) AS INTEGER)"
    minute, hour = f"({epoch} / 60) * 60", f"({epoch} / 3600) * 3600"
    names = ", ".join(name for name, _ in MEASURES)
    sums = ", ".join(expr for _, expr in MEASURES)
    resum = ", ".join(f"sum({name})" for name, _ in MEASURES)
    route = "coalesce(model, ''), coalesce(provider, ''), coalesce(deployment, '')"
    op.execute(
        f"INSERT INTO route_minute (bucket, model, provider, deployment, {names}) "
        f"SELECT {minute}, {route}, {sums} FROM request_log GROUP BY 1, 2, 3, 4"
    )
    op.execute(
        f"INSERT INTO route_hour (bucket, model, provider, deployment, {names}) "
        f"SELECT (bucket / 3600) * 3600, model, provider, deployment, {resum} "
        "FROM route_minute GROUP BY 1, 2, 3, 4"
    )
    op.execute(
        f"INSERT INTO caller_hour (bucket, gateway_key, team, {names}) "
        f"SELECT {hour}, coalesce(gateway_key, ''), coalesce(team, ''), {sums} "
        "FROM request_log GROUP BY 1, 2, 3"
    )
    for metric, column in ((0, "latency_ms"), (1, "ttft_ms")):
        op.execute(
            "INSERT INTO latency_minute (bucket, metric, bin, count) "
            f"SELECT {minute}, {metric}, {_bin(column)}, count(*) FROM request_log "
            f"WHERE {column} IS NOT NULL GROUP BY 1, 2, 3"
        )


def downgrade() -> None:
    for name in ("latency_minute", "caller_hour", "route_hour", "route_minute"):
        op.drop_table(name)

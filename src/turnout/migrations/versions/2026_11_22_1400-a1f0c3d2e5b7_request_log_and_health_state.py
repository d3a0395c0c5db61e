"""Request log (partitioned by day on PostgreSQL) and persisted health state.

Revision ID: a1f0c3d2e5b7
Revises:
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1f0c3d2e5b7"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "request_log",
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String()),
        sa.Column("gateway_key", sa.String()),
        sa.Column("team", sa.String()),
        sa.Column("protocol", sa.String()),
        sa.Column("operation", sa.String()),
        sa.Column("model", sa.String()),
        sa.Column("provider", sa.String()),
        sa.Column("deployment", sa.String()),
        sa.Column("key_id", sa.String()),
        sa.Column("attempts", sa.SmallInteger()),
        sa.Column("attempt_log", sa.Text()),
        sa.Column("status", sa.SmallInteger()),
        sa.Column("error", sa.String()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("ttft_ms", sa.Float()),
        sa.Column("input_tokens", sa.Integer()),
        sa.Column("output_tokens", sa.Integer()),
        sa.Column("cached_tokens", sa.Integer()),
        sa.Column("reasoning_tokens", sa.Integer()),
        sa.Column("cost", sa.Float()),
        sa.Column("stream", sa.Boolean()),
        sa.Column("cache_hit", sa.Boolean()),
        sa.Column("fallback", sa.String()),
        sa.PrimaryKeyConstraint("ts", "id", name="pk_request_log"),
        postgresql_partition_by="RANGE (ts)",
    )
    if postgres:
        # Catches rows no daily partition covers yet; the maintenance task creates those ahead.
        op.execute("CREATE TABLE request_log_default PARTITION OF request_log DEFAULT")
    op.create_index("ix_request_log_model_ts", "request_log", ["model", "ts"])
    op.create_table(
        "health_state",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_health_state"),
    )


def downgrade() -> None:
    op.drop_table("health_state")
    op.drop_index("ix_request_log_model_ts", table_name="request_log")
    op.drop_table("request_log")  # on PostgreSQL its partitions go with it

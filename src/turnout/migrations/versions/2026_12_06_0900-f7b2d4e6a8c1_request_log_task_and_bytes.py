"""The request log records an agent's task id and the bytes of agent and tool calls.

Revision ID: f7b2d4e6a8c1
Revises: e6a1c4d2b9f3
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f7b2d4e6a8c1"
down_revision: str | None = "e6a1c4d2b9f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: no table rewrite, on SQLite or PostgreSQL (where
    # the partitions inherit them).
    op.add_column("request_log", sa.Column("task_id", sa.String()))
    op.add_column("request_log", sa.Column("bytes_in", sa.BigInteger()))
    op.add_column("request_log", sa.Column("bytes_out", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("bytes_out")
        batch.drop_column("bytes_in")
        batch.drop_column("task_id")

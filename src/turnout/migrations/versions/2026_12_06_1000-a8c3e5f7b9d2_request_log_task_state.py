"""The request log records an A2A task's state on the row of each state change.

Revision ID: a8c3e5f7b9d2
Revises: f7b2d4e6a8c1
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a8c3e5f7b9d2"
down_revision: str | None = "f7b2d4e6a8c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite, on SQLite or PostgreSQL (where
    # the partitions inherit it).
    op.add_column("request_log", sa.Column("task_state", sa.String()))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("task_state")

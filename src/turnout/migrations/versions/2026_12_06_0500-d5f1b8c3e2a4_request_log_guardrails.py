"""The request log records plugins' decisions (docs/plugins.md).

Revision ID: d5f1b8c3e2a4
Revises: c4e2a9d71f30
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5f1b8c3e2a4"
down_revision: str | None = "c4e2a9d71f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite, on SQLite or PostgreSQL (where
    # the partitions inherit it).
    op.add_column("request_log", sa.Column("guardrails", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("guardrails")

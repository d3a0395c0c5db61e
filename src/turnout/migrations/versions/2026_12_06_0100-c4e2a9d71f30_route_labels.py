"""Quality labels of answers for learned routing (feedback and judge scores).

Revision ID: c4e2a9d71f30
Revises: c3e8a5f2d9b1
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e2a9d71f30"
down_revision: str | None = "c3e8a5f2d9b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_labels",
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("request_id", "source", name="pk_route_labels"),
    )


def downgrade() -> None:
    op.drop_table("route_labels")

"""Message Batches made through the gateway: their owner and holder.

Revision ID: d2f6b8c0e4a1
Revises: c1e5a7b9d3f2
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2f6b8c0e4a1"
down_revision: str | None = "c1e5a7b9d3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_batches",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("models", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("batch", sa.LargeBinary(), nullable=False),
        sa.Column("accounted", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_batches"),
    )
    op.create_index("ix_message_batches_owner_created", "message_batches", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_message_batches_owner_created", table_name="message_batches")
    op.drop_table("message_batches")

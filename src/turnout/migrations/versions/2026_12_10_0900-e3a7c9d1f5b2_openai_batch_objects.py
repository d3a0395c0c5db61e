"""OpenAI batch files and batches made through the gateway: their owner and holder.

Revision ID: e3a7c9d1f5b2
Revises: d2f6b8c0e4a1
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a7c9d1f5b2"
down_revision: str | None = "d2f6b8c0e4a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openai_batch_objects",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("models", sa.LargeBinary(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("object", sa.LargeBinary(), nullable=False),
        sa.Column("accounted", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_openai_batch_objects"),
    )
    op.create_index(
        "ix_openai_batch_objects_owner_created", "openai_batch_objects", ["owner", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_openai_batch_objects_owner_created", table_name="openai_batch_objects")
    op.drop_table("openai_batch_objects")

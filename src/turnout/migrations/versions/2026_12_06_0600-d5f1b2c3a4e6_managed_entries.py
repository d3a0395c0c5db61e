"""Providers and models managed through the admin API (live configuration).

Revision ID: d5f1b2c3a4e6
Revises: d5f1b8c3e2a4
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5f1b2c3a4e6"
down_revision: str | None = "d5f1b8c3e2a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "managed_entries",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sealed_keys", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name="pk_managed_entries"),
    )
    op.create_table(
        "managed_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_managed_version"),
    )
    op.execute("INSERT INTO managed_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("managed_version")
    op.drop_table("managed_entries")

"""Dashboard sessions signed out, read by every replica's key-store poll.

Revision ID: c1e5a7b9d3f2
Revises: b9d4f6a8c0e3
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1e5a7b9d3f2"
down_revision: str | None = "b9d4f6a8c0e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_out_sessions",
        sa.Column("sid", sa.String(), primary_key=True),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_signed_out_sessions_version", "signed_out_sessions", ["version"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_signed_out_sessions_version", table_name="signed_out_sessions")
    op.drop_table("signed_out_sessions")

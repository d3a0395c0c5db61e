"""Responses conversation state kept by the gateway (previous_response_id).

Revision ID: e6a1c4d2b9f3
Revises: d5f1b3c8e2a4
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6a1c4d2b9f3"
down_revision: str | None = "d5f1b3c8e2a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_state",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("items", sa.LargeBinary(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("deployment", sa.String(), nullable=True),
        sa.Column("key_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_response_state"),
    )
    op.create_index("ix_response_state_expires_at", "response_state", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_response_state_expires_at", table_name="response_state")
    op.drop_table("response_state")

"""Quality labels indexed by source and time: a key's feedback is kept to its newest
``storage.feedback_per_key`` labels, counted and trimmed through this index.

Revision ID: b9d4f6a8c0e3
Revises: a8c3e5f7b9d2
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b9d4f6a8c0e3"
down_revision: str | None = "a8c3e5f7b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_route_labels_source_ts", "route_labels", ["source", "ts"])


def downgrade() -> None:
    op.drop_index("ix_route_labels_source_ts", table_name="route_labels")
